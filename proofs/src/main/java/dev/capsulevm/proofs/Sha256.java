package dev.capsulevm.proofs;

import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 with a domain tag in front of every input. Uses the JDK's implementation, which runs on the
 * CPU's SHA instructions; one digest object per thread, so hashing allocates only its result.
 */
public final class Sha256 {
  private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(Sha256::newDigest);

  private Sha256() {}

  /** A new JDK SHA-256 digest. */
  public static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }

  /** {@code SHA-256(domain.tag || data)}. */
  public static Hash hash(Domain domain, byte[] data) {
    return hash(domain, data, 0, data.length);
  }

  /** {@code SHA-256(domain.tag || parts[0] || parts[1] || ...)}, without joining the parts first. */
  public static Hash hash(Domain domain, byte[]... parts) {
    MessageDigest md = DIGEST.get();
    md.update(domain.tag());
    for (byte[] part : parts) {
      md.update(part);
    }
    return Hash.wrap(md.digest());
  }

  /** {@code SHA-256(domain.tag || data[offset, offset + length))}. */
  public static Hash hash(Domain domain, byte[] data, int offset, int length) {
    MessageDigest md = DIGEST.get();
    md.update(domain.tag());
    md.update(data, offset, length);
    return Hash.wrap(md.digest());
  }

  /** Plain SHA-256 of {@code data}, with no tag: only where a format says so (the empty tree). */
  public static Hash untagged(byte[] data) {
    return Hash.wrap(DIGEST.get().digest(data));
  }

  /**
   * Writes {@code SHA-256(tag || a || b)} into {@code out} at {@code outOffset} without allocating;
   * {@code a} and {@code b} are 32-byte hashes inside their arrays.
   */
  public static void hashPair(
      MessageDigest md, byte tag, byte[] a, int aOffset, byte[] b, int bOffset, byte[] out, int outOffset) {
    md.update(tag);
    md.update(a, aOffset, Hash.LENGTH);
    md.update(b, bOffset, Hash.LENGTH);
    finish(md, out, outOffset);
  }

  /** Writes {@code SHA-256(tag || data[offset, offset + length))} into {@code out} without allocating. */
  public static void hashTagged(
      MessageDigest md, byte tag, byte[] data, int offset, int length, byte[] out, int outOffset) {
    md.update(tag);
    md.update(data, offset, length);
    finish(md, out, outOffset);
  }

  private static void finish(MessageDigest md, byte[] out, int outOffset) {
    try {
      md.digest(out, outOffset, Hash.LENGTH);
    } catch (DigestException e) {
      throw new IllegalArgumentException("no room for a hash at offset " + outOffset, e);
    }
  }
}
