package dev.capsulevm.pricing;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** An X25519 public key (RFC 7748): the 32 bytes one side of a session contributes to its shared secret. */
public final class ExchangeKey {
  /** Bytes of an X25519 public key. */
  public static final int LENGTH = 32;

  private final byte[] bytes;

  private ExchangeKey(byte[] bytes) {
    this.bytes = bytes;
  }

  /** The key with these 32 bytes (any 32 bytes are a key to X25519; a degenerate one fails at agreement). */
  public static ExchangeKey copyOf(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != LENGTH) {
      throw new IllegalArgumentException("an X25519 public key is " + LENGTH + " bytes, got " + bytes.length);
    }
    return new ExchangeKey(bytes.clone());
  }

  /** A copy of the 32 bytes. */
  public byte[] toByteArray() {
    return bytes.clone();
  }

  void copyTo(byte[] out, int offset) {
    System.arraycopy(bytes, 0, out, offset, LENGTH);
  }

  @Override
  public boolean equals(@Nullable Object other) {
    return other instanceof ExchangeKey key && Arrays.equals(bytes, key.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    return HexFormat.of().formatHex(bytes);
  }
}
