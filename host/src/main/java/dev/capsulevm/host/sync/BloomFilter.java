package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;

/**
 * A Bloom filter of record ids under the session's keyed hash. Bit positions come from one SipHash value
 * h by double hashing: with a = low 32 bits of h and b = (high 32 bits) | 1, probe i (0 &le; i &lt; k) sets bit
 * {@code (a + i*b) mod m}; bit j is bit {@code j mod 8} (least significant first) of byte {@code j / 8}.
 */
public final class BloomFilter {
  /** The most bits a filter may have (256 MiB). */
  public static final long MAX_BITS = 1L << 31;

  private final SessionKey key;
  private final int k;
  private final long bits;
  private final byte[] data;

  public BloomFilter(SessionKey key, int k, long bits) {
    this(key, k, bits, new byte[(int) ((checkBits(bits) + 7) / 8)]);
  }

  public BloomFilter(SessionKey key, int k, long bits, byte[] data) {
    if (k < 1 || k > 32) {
      throw new IllegalArgumentException("1 to 32 probes, got " + k);
    }
    checkBits(bits);
    if (data.length != (bits + 7) / 8) {
      throw new IllegalArgumentException("filter of " + bits + " bits needs " + (bits + 7) / 8 + " bytes");
    }
    this.key = key;
    this.k = k;
    this.bits = bits;
    this.data = data;
  }

  private static long checkBits(long bits) {
    if (bits < 8 || bits > MAX_BITS) {
      throw new IllegalArgumentException("8 to 2^31 bits, got " + bits);
    }
    return bits;
  }

  /** The optimal size for {@code n} elements at false-positive rate {@code p}: bits and probes. */
  public static long bitsFor(long n, double p) {
    double b = Math.ceil(Math.max(1, n) * -Math.log(p) / (Math.log(2) * Math.log(2)));
    return Math.min(MAX_BITS, Math.max(64, ((long) b + 7) / 8 * 8));
  }

  public static int probesFor(long n, long bits) {
    return (int) Math.max(1, Math.min(16, Math.round((double) bits / Math.max(1, n) * Math.log(2))));
  }

  /** A filter holding every record of {@code dag}. */
  public static BloomFilter of(SessionKey key, SyncDag dag, double falsePositiveRate) {
    long bits = bitsFor(dag.count(), falsePositiveRate);
    BloomFilter f = new BloomFilter(key, probesFor(dag.count(), bits), bits);
    dag.forEachIdLimbs((l0, l1, l2, l3) -> f.addHash(key.hash(l0, l1, l2, l3)));
    return f;
  }

  public void add(Hash id) {
    addHash(key.hash(id));
  }

  private void addHash(long h) {
    long a = h & 0xffffffffL;
    long b = (h >>> 32) | 1;
    for (int i = 0; i < k; i++) {
      long j = Long.remainderUnsigned(a + i * b, bits);
      data[(int) (j >>> 3)] |= (byte) (1 << (j & 7));
    }
  }

  public boolean mightContain(Hash id) {
    return mightContainHash(key.hash(id));
  }

  /** Whether the id given as big-endian limbs may be in the filter. */
  public boolean mightContain(long l0, long l1, long l2, long l3) {
    return mightContainHash(key.hash(l0, l1, l2, l3));
  }

  private boolean mightContainHash(long h) {
    long a = h & 0xffffffffL;
    long b = (h >>> 32) | 1;
    for (int i = 0; i < k; i++) {
      long j = Long.remainderUnsigned(a + i * b, bits);
      if ((data[(int) (j >>> 3)] & (1 << (j & 7))) == 0) {
        return false;
      }
    }
    return true;
  }

  public int probes() {
    return k;
  }

  public long bits() {
    return bits;
  }

  byte[] data() {
    return data;
  }
}
