package dev.capsulevm.proofs;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A 32-byte SHA-256 value. Immutable: the bytes are copied on the way in and on the way out, and
 * equality compares contents in constant time.
 */
public final class Hash implements Comparable<Hash> {
  /** The length of every hash in bytes. */
  public static final int LENGTH = 32;

  private final byte[] bytes;

  private Hash(byte[] bytes) {
    this.bytes = bytes;
  }

  /** Copies {@code bytes}, which must be exactly {@value #LENGTH} bytes long. */
  public static Hash copyOf(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    return copyOf(bytes, 0, bytes.length);
  }

  /** Copies {@code length} bytes of {@code source} from {@code offset}; the length must be 32. */
  public static Hash copyOf(byte[] source, int offset, int length) {
    Objects.requireNonNull(source, "source");
    if (length != LENGTH) {
      throw new IllegalArgumentException("a hash is 32 bytes, got " + length);
    }
    Objects.checkFromIndexSize(offset, length, source.length);
    return new Hash(Arrays.copyOfRange(source, offset, offset + LENGTH));
  }

  /** Parses 64 hex digits, either case. */
  public static Hash fromHex(String hex) {
    Objects.requireNonNull(hex, "hex");
    if (hex.length() != 2 * LENGTH) {
      throw new IllegalArgumentException(
          "a hash is 64 hex digits, got " + hex.length() + " characters");
    }
    return new Hash(HexFormat.of().parseHex(hex));
  }

  /** Takes ownership of {@code bytes} without copying; only for arrays nobody else holds. */
  static Hash wrap(byte[] bytes) {
    return new Hash(bytes);
  }

  /** A fresh copy of the 32 bytes. */
  public byte[] toByteArray() {
    return bytes.clone();
  }

  /** Writes the 32 bytes into {@code target} at {@code offset}. */
  public void copyTo(byte[] target, int offset) {
    System.arraycopy(bytes, 0, target, offset, LENGTH);
  }

  /** The byte at {@code index}, 0 to 31. */
  public byte byteAt(int index) {
    return bytes[index];
  }

  /** Whether this hash equals the 32 bytes of {@code other} at {@code offset}. */
  public boolean contentEquals(byte[] other, int offset) {
    if (offset < 0 || other.length - offset < LENGTH) {
      return false;
    }
    int diff = 0;
    for (int i = 0; i < LENGTH; i++) {
      diff |= bytes[i] ^ other[offset + i];
    }
    return diff == 0;
  }

  /** Lowercase hex, 64 characters. */
  public String toHex() {
    return HexFormat.of().formatHex(bytes);
  }

  /** Compares as unsigned big-endian numbers, the order canonical encodings sort hashes in. */
  @Override
  public int compareTo(Hash other) {
    return Arrays.compareUnsigned(bytes, other.bytes);
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Hash other && MessageDigest.isEqual(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    // The bytes are uniformly distributed already; the first four make a good hash code.
    return (bytes[0] & 0xff) << 24 | (bytes[1] & 0xff) << 16 | (bytes[2] & 0xff) << 8 | (bytes[3] & 0xff);
  }

  @Override
  public String toString() {
    return toHex();
  }
}
