package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import dev.capsulevm.proofs.Sha256;

/**
 * The set fingerprint: the sum of the record ids read as 256-bit unsigned big-endian integers, modulo
 * 2^256, and their count. Unlike XOR, a sum does not cancel pairs, and adding or removing one id is one
 * addition. {@link #fingerprint()} is {@code SHA-256("capsulevm/sync/fp/v1" || sum || u64 count)}.
 * Mutable; not thread-safe.
 */
public final class SetDigest {
  static final byte[] FINGERPRINT_LABEL = "capsulevm/sync/fp/v1".getBytes(StandardCharsets.US_ASCII);

  /** Limbs, most significant first. */
  private final long[] sum = new long[4];
  private long count;

  public SetDigest() {}

  /**
   * The digest with this sum (32 bytes, big-endian, as {@link #sumBytes()} gives it) and count: how a
   * store reads back the digest it keeps.
   */
  public static SetDigest of(byte[] sumBytes, long count) {
    if (sumBytes.length != 32) {
      throw new IllegalArgumentException("a sum is 32 bytes, got " + sumBytes.length);
    }
    ByteBuffer b = ByteBuffer.wrap(sumBytes);
    SetDigest d = new SetDigest();
    for (int i = 0; i < 4; i++) {
      d.sum[i] = b.getLong();
    }
    d.count = count;
    return d;
  }

  public SetDigest copy() {
    SetDigest d = new SetDigest();
    System.arraycopy(sum, 0, d.sum, 0, 4);
    d.count = count;
    return d;
  }

  /** Adds another digest's sum and count (the digest of the union of disjoint sets). */
  public void addAll(SetDigest other) {
    addLimbs(other.sum[0], other.sum[1], other.sum[2], other.sum[3], other.count);
  }

  public void add(Hash id) {
    addLimbs(Riblt.limb(id, 0), Riblt.limb(id, 1), Riblt.limb(id, 2), Riblt.limb(id, 3), 1);
  }

  public void remove(Hash id) {
    // subtracting x is adding its two's complement: ~x + 1
    long[] neg = {~Riblt.limb(id, 0), ~Riblt.limb(id, 1), ~Riblt.limb(id, 2), ~Riblt.limb(id, 3)};
    addLimbs(neg[0], neg[1], neg[2], neg[3], 0);
    addLimbs(0, 0, 0, 1, -1);
  }

  /** Adds the id given as four big-endian limbs; {@code sign} is +1 to add, -1 to remove. */
  void addLimbs(long[] limbs, int offset, int sign) {
    if (sign > 0) {
      addLimbs(limbs[offset], limbs[offset + 1], limbs[offset + 2], limbs[offset + 3], 1);
    } else {
      addLimbs(~limbs[offset], ~limbs[offset + 1], ~limbs[offset + 2], ~limbs[offset + 3], 0);
      addLimbs(0, 0, 0, 1, -1);
    }
  }

  private void addLimbs(long a0, long a1, long a2, long a3, long countDelta) {
    long[] a = {a0, a1, a2, a3};
    long carry = 0;
    for (int i = 3; i >= 0; i--) {
      long s = sum[i] + a[i];
      long c1 = Long.compareUnsigned(s, sum[i]) < 0 ? 1 : 0;
      long s2 = s + carry;
      long c2 = Long.compareUnsigned(s2, s) < 0 ? 1 : 0;
      sum[i] = s2;
      carry = c1 | c2;
    }
    count += countDelta;
  }

  public long count() {
    return count;
  }

  /** The 32-byte sum, big-endian. */
  public byte[] sumBytes() {
    ByteBuffer b = ByteBuffer.allocate(32);
    for (long l : sum) {
      b.putLong(l);
    }
    return b.array();
  }

  public Hash fingerprint() {
    MessageDigest md = Sha256.newDigest();
    md.update(FINGERPRINT_LABEL);
    md.update(sumBytes());
    md.update(ByteBuffer.allocate(8).putLong(count).array());
    return Hash.copyOf(md.digest());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SetDigest d && d.count == count && java.util.Arrays.equals(d.sum, sum);
  }

  @Override
  public int hashCode() {
    return java.util.Arrays.hashCode(sum) * 31 + Long.hashCode(count);
  }
}
