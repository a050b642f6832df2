package dev.capsulevm.proofs.members;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The public key of one epoch of a private capsule (docs/FORMAT.md, "Members", "Keystore block"): the
 * 32-byte X25519 (RFC 7748) public key that writers encrypt to, which is also the epoch's id. It is
 * derived from a fresh random secret, so no two epochs share one. Any 32 bytes are an X25519 public key,
 * so only the length is checked. Immutable; ordered by unsigned bytes, as keystore blocks sort links.
 */
public final class EpochKey implements Comparable<EpochKey> {
  /** The length of an epoch key in bytes. */
  public static final int LENGTH = 32;

  private final byte[] bytes;

  private EpochKey(byte[] bytes) {
    this.bytes = bytes;
  }

  /** Copies {@code bytes}, which must be exactly {@value #LENGTH} bytes long. */
  public static EpochKey copyOf(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    return copyOf(bytes, 0, bytes.length);
  }

  /** Copies {@code length} bytes of {@code source} from {@code offset}; the length must be 32. */
  public static EpochKey copyOf(byte[] source, int offset, int length) {
    Objects.requireNonNull(source, "source");
    if (length != LENGTH) {
      throw new IllegalArgumentException("an epoch key is 32 bytes, got " + length);
    }
    Objects.checkFromIndexSize(offset, length, source.length);
    return new EpochKey(Arrays.copyOfRange(source, offset, offset + LENGTH));
  }

  /** Parses 64 hex digits, either case. */
  public static EpochKey fromHex(String hex) {
    Objects.requireNonNull(hex, "hex");
    if (hex.length() != 2 * LENGTH) {
      throw new IllegalArgumentException("an epoch key is 64 hex digits, got " + hex.length() + " characters");
    }
    return new EpochKey(HexFormat.of().parseHex(hex));
  }

  /** A fresh copy of the 32 bytes. */
  public byte[] toByteArray() {
    return bytes.clone();
  }

  /** Writes the 32 bytes into {@code target} at {@code offset}. */
  public void copyTo(byte[] target, int offset) {
    System.arraycopy(bytes, 0, target, offset, LENGTH);
  }

  /** Lowercase hex, 64 digits. */
  public String toHex() {
    return HexFormat.of().formatHex(bytes);
  }

  /** Unsigned byte order. */
  @Override
  public int compareTo(EpochKey other) {
    return Arrays.compareUnsigned(bytes, other.bytes);
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof EpochKey other && Arrays.equals(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  /** The hex form: an epoch key is public. */
  @Override
  public String toString() {
    return toHex();
  }
}
