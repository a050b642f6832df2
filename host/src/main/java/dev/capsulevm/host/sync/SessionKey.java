package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import org.bouncycastle.crypto.macs.SipHash;
import org.bouncycastle.crypto.params.KeyParameter;
import org.jspecify.annotations.Nullable;

/**
 * The per-session keyed hash that maps record ids into coded symbols and filter bits: SipHash-2-4 under
 * a 16-byte key derived from both sides' nonces, so neither a writer (who fixes record hashes long before
 * a session) nor one peer alone can choose ids that collide.
 *
 * <p>key = first 16 bytes of {@code SHA-256("capsulevm/sync/key/v1" || capsule id || initiator nonce ||
 * responder nonce || u8 purpose || u32 round)}; purpose 1 is the rateless IBLT, 2 the Bloom filters.
 */
public final class SessionKey {
  static final byte[] LABEL = "capsulevm/sync/key/v1".getBytes(StandardCharsets.US_ASCII);
  public static final int PURPOSE_RIBLT = 1;
  public static final int PURPOSE_BLOOM = 2;
  static final byte[] PAIR_LABEL = "capsulevm/sync/pair/v1".getBytes(StandardCharsets.US_ASCII);
  /** Bytes of the secret two hosts share for their standing keys. */
  public static final int PAIR_SECRET_BYTES = 32;

  private final byte[] key;
  private final SipHash mac = new SipHash(2, 4);
  private final byte[] buffer = new byte[32];
  private final long k0;
  private final long k1;

  public SessionKey(byte[] key) {
    if (key.length != 16) {
      throw new IllegalArgumentException("a SipHash key is 16 bytes, got " + key.length);
    }
    this.key = key.clone();
    mac.init(new KeyParameter(this.key));
    k0 = Long.reverseBytes(getLong(this.key, 0));
    k1 = Long.reverseBytes(getLong(this.key, 8));
  }

  public static SessionKey derive(Hash capsule, byte[] initiatorNonce, byte[] responderNonce, int purpose,
      int round) {
    MessageDigest md = Sha256.newDigest();
    md.update(LABEL);
    md.update(capsule.toByteArray());
    md.update(initiatorNonce);
    md.update(responderNonce);
    md.update((byte) purpose);
    md.update(ByteBuffer.allocate(4).putInt(round).array());
    return new SessionKey(Arrays.copyOf(md.digest(), 16));
  }

  /**
   * The standing key of the coded symbols (mode 3) for {@code capsule} between two hosts that share
   * {@code pairSecret} (32 bytes, from their key exchange in the peer proof): the first 16 bytes of
   * {@code SHA-256("capsulevm/sync/pair/v1" || capsule id || pair secret)}. It stays the same for every
   * session of the pair, so each host can keep its symbols under it ({@link CodedSet}); nobody but the
   * two hosts can compute it.
   */
  public static SessionKey forPair(Hash capsule, byte[] pairSecret) {
    if (pairSecret.length != PAIR_SECRET_BYTES) {
      throw new IllegalArgumentException("a pair secret is " + PAIR_SECRET_BYTES + " bytes, got " + pairSecret.length);
    }
    MessageDigest md = Sha256.newDigest();
    md.update(PAIR_LABEL);
    md.update(capsule.toByteArray());
    md.update(pairSecret);
    return new SessionKey(Arrays.copyOf(md.digest(), 16));
  }

  /** SipHash-2-4 of the 32 id bytes, as the little-endian 64-bit value SipHash defines. */
  public long hash(Hash id) {
    id.copyTo(buffer, 0);
    return hash(getLong(buffer, 0), getLong(buffer, 8), getLong(buffer, 16), getLong(buffer, 24));
  }

  /**
   * The same hash of an id given as four big-endian limbs: SipHash-2-4 specialised to 32-byte messages
   * (four little-endian words, then the length block), equal to Bouncy Castle's {@code SipHash(2, 4)},
   * which the tests check, at a fraction of its cost per call.
   */
  public long hash(long l0, long l1, long l2, long l3) {
    long v0 = k0 ^ 0x736f6d6570736575L;
    long v1 = k1 ^ 0x646f72616e646f6dL;
    long v2 = k0 ^ 0x6c7967656e657261L;
    long v3 = k1 ^ 0x7465646279746573L;
    long[] words = {Long.reverseBytes(l0), Long.reverseBytes(l1), Long.reverseBytes(l2), Long.reverseBytes(l3),
        32L << 56};
    for (long m : words) {
      v3 ^= m;
      for (int r = 0; r < 2; r++) {
        v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
        v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
        v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
        v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
      }
      v0 ^= m;
    }
    v2 ^= 0xff;
    for (int r = 0; r < 4; r++) {
      v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
      v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
      v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
      v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
    }
    return v0 ^ v1 ^ v2 ^ v3;
  }

  /** Bouncy Castle's SipHash-2-4 of the 32 id bytes: the reference the specialised version must equal. */
  public long referenceHash(Hash id) {
    id.copyTo(buffer, 0);
    mac.update(buffer, 0, 32);
    return mac.doFinal();
  }

  static long getLong(byte[] b, int off) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[off + i] & 0xff);
    }
    return v;
  }

  /** The key's 16 bytes (a copy). */
  public byte[] keyBytes() {
    return key.clone();
  }

  /** Keys are equal when their 16 bytes are. */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof SessionKey other && Arrays.equals(other.key, key);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(key);
  }

  static void putLong(byte[] b, int off, long v) {
    for (int i = 7; i >= 0; i--) {
      b[off + i] = (byte) v;
      v >>>= 8;
    }
  }
}
