package dev.capsulevm.proofs.crypto;

import dev.capsulevm.proofs.Domain;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.jspecify.annotations.Nullable;

/**
 * An Ed25519 public key (RFC 8032): 32 bytes that decode to a point on the curve. The point is decoded
 * once, when the key is made, so each verification skips that work.
 *
 * <p>Decoding a point costs about 12 µs, more than parsing and hashing a whole record header, and the
 * same few writer keys recur in every header of a capsule. So recently decoded keys are kept in a small
 * direct-mapped cache: a hit compares 32 bytes instead of decoding. Only keys that decoded enter it, so
 * an invalid key is refused whether or not the cache is consulted.
 */
public final class PublicKey implements Comparable<PublicKey> {
  /** The length of an encoded public key. */
  public static final int LENGTH = Ed25519.PUBLIC_KEY_SIZE;

  private static final int CACHE_SLOTS = 1024;
  private static final AtomicReferenceArray<PublicKey> DECODED = new AtomicReferenceArray<>(CACHE_SLOTS);

  private final byte[] bytes;
  private final Ed25519.PublicPoint point;

  private PublicKey(byte[] bytes, Ed25519.PublicPoint point) {
    this.bytes = bytes;
    this.point = point;
  }

  /**
   * Copies and decodes 32 bytes.
   *
   * @throws IllegalArgumentException if the length is wrong or the bytes are not a curve point
   */
  public static PublicKey copyOf(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    return copyOf(bytes, 0, bytes.length);
  }

  /** Copies and decodes {@code length} bytes of {@code source} from {@code offset}. */
  public static PublicKey copyOf(byte[] source, int offset, int length) {
    Objects.requireNonNull(source, "source");
    if (length != LENGTH) {
      throw new IllegalArgumentException("an Ed25519 public key is 32 bytes, got " + length);
    }
    Objects.checkFromIndexSize(offset, LENGTH, source.length);
    int hash = 0;
    for (int i = 0; i < 8; i++) {
      hash = 31 * hash + source[offset + i];
    }
    int slot = Math.floorMod(hash, CACHE_SLOTS);
    PublicKey cached = DECODED.get(slot);
    if (cached != null && Arrays.equals(cached.bytes, 0, LENGTH, source, offset, offset + LENGTH)) {
      return cached;
    }
    byte[] copy = Arrays.copyOfRange(source, offset, offset + LENGTH);
    Ed25519.PublicPoint point = Ed25519.validatePublicKeyPartialExport(copy, 0);
    if (point == null) {
      throw new IllegalArgumentException("not an Ed25519 public key: " + HexFormat.of().formatHex(copy));
    }
    PublicKey key = new PublicKey(copy, point);
    DECODED.set(slot, key);
    return key;
  }

  /** Parses 64 hex digits. */
  public static PublicKey fromHex(String hex) {
    Objects.requireNonNull(hex, "hex");
    if (hex.length() != 2 * LENGTH) {
      throw new IllegalArgumentException(
          "an Ed25519 public key is 64 hex digits, got " + hex.length() + " characters");
    }
    return copyOf(HexFormat.of().parseHex(hex));
  }

  /**
   * Whether {@code signature} is this key's signature over {@code domain.tag || message}.
   *
   * <p>Security: the domain tag is part of the signed bytes, so a signature made for one kind of
   * object never verifies as another kind.
   */
  public boolean verify(Domain domain, byte[] message, Signature signature) {
    byte[] tagged = Signing.tagged(domain, message);
    return Ed25519.verify(signature.bytesUnsafe(), 0, point, tagged, 0, tagged.length);
  }

  /** A fresh copy of the 32 bytes. */
  public byte[] toByteArray() {
    return bytes.clone();
  }

  /** Writes the 32 bytes into {@code target} at {@code offset}. */
  public void copyTo(byte[] target, int offset) {
    System.arraycopy(bytes, 0, target, offset, LENGTH);
  }

  /** Lowercase hex, 64 characters. */
  public String toHex() {
    return HexFormat.of().formatHex(bytes);
  }

  /** Unsigned byte order, the order canonical encodings list keys in. */
  @Override
  public int compareTo(PublicKey other) {
    return Arrays.compareUnsigned(bytes, other.bytes);
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof PublicKey other && MessageDigest.isEqual(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    return "ed25519:" + toHex();
  }
}
