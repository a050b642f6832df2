package dev.capsulevm.proofs.crypto;

import dev.capsulevm.proofs.Domain;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import org.bouncycastle.math.ec.rfc8032.Ed25519;

/**
 * An Ed25519 public key (RFC 8032): 32 bytes that decode to a point on the curve. The point is decoded
 * once, when the key is made, so each verification skips that work.
 */
public final class PublicKey implements Comparable<PublicKey> {
  /** The length of an encoded public key. */
  public static final int LENGTH = Ed25519.PUBLIC_KEY_SIZE;

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
    byte[] copy = Arrays.copyOfRange(source, offset, offset + LENGTH);
    Ed25519.PublicPoint point = Ed25519.validatePublicKeyPartialExport(copy, 0);
    if (point == null) {
      throw new IllegalArgumentException("not an Ed25519 public key: " + HexFormat.of().formatHex(copy));
    }
    return new PublicKey(copy, point);
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
  public boolean equals(Object o) {
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
