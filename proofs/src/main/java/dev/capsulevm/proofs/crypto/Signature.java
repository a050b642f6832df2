package dev.capsulevm.proofs.crypto;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** A 64-byte Ed25519 signature. Immutable. */
public final class Signature {
  /** The length of a signature. */
  public static final int LENGTH = 64;

  private final byte[] bytes;

  private Signature(byte[] bytes) {
    this.bytes = bytes;
  }

  /** Copies 64 bytes. */
  public static Signature copyOf(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    return copyOf(bytes, 0, bytes.length);
  }

  /** Copies {@code length} bytes of {@code source} from {@code offset}; the length must be 64. */
  public static Signature copyOf(byte[] source, int offset, int length) {
    Objects.requireNonNull(source, "source");
    if (length != LENGTH) {
      throw new IllegalArgumentException("an Ed25519 signature is 64 bytes, got " + length);
    }
    Objects.checkFromIndexSize(offset, length, source.length);
    return new Signature(Arrays.copyOfRange(source, offset, offset + LENGTH));
  }

  static Signature wrap(byte[] bytes) {
    return new Signature(bytes);
  }

  /** The backing array, for this package's verifiers; never handed out. */
  byte[] bytesUnsafe() {
    return bytes;
  }

  /** A fresh copy of the 64 bytes. */
  public byte[] toByteArray() {
    return bytes.clone();
  }

  /** Writes the 64 bytes into {@code target} at {@code offset}. */
  public void copyTo(byte[] target, int offset) {
    System.arraycopy(bytes, 0, target, offset, LENGTH);
  }

  /** Lowercase hex, 128 characters. */
  public String toHex() {
    return HexFormat.of().formatHex(bytes);
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Signature other && MessageDigest.isEqual(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    return toHex();
  }
}
