package dev.capsulevm.proofs;

import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;

/**
 * A strict big-endian reader over canonical bytes (docs/FORMAT.md): every short read and every leftover
 * byte is a {@link VerificationException} naming the object, the field and the position. Shared by every
 * canonical decoder so that all of them refuse malformed input the same way.
 */
public final class CanonicalReader {
  private final byte[] bytes;
  private final String what;
  private int position;

  /** A reader over {@code bytes}, which hold one {@code what} (named in every error). */
  public CanonicalReader(byte[] bytes, String what) {
    this.bytes = bytes;
    this.what = what;
  }

  /** How many bytes have been read. */
  public int position() {
    return position;
  }

  private int take(int length, String field) throws VerificationException {
    if (bytes.length - position < length) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING,
          what + " ends inside " + field + " at byte " + position + " of " + bytes.length);
    }
    int start = position;
    position += length;
    return start;
  }

  public int u8(String field) throws VerificationException {
    return bytes[take(1, field)] & 0xff;
  }

  public int u16(String field) throws VerificationException {
    int at = take(2, field);
    return (bytes[at] & 0xff) << 8 | (bytes[at + 1] & 0xff);
  }

  public long u32(String field) throws VerificationException {
    int at = take(4, field);
    return ((long) (bytes[at] & 0xff) << 24
        | (bytes[at + 1] & 0xff) << 16
        | (bytes[at + 2] & 0xff) << 8
        | (bytes[at + 3] & 0xff));
  }

  public long u64(String field) throws VerificationException {
    int at = take(8, field);
    long value = 0;
    for (int i = 0; i < 8; i++) {
      value = value << 8 | (bytes[at + i] & 0xff);
    }
    return value;
  }

  public Hash hash(String field) throws VerificationException {
    return Hash.copyOf(bytes, take(Hash.LENGTH, field), Hash.LENGTH);
  }

  public PublicKey publicKey(String field) throws VerificationException {
    int at = take(PublicKey.LENGTH, field);
    try {
      return PublicKey.copyOf(bytes, at, PublicKey.LENGTH);
    } catch (IllegalArgumentException e) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, what + " " + field + ": " + e.getMessage());
    }
  }

  public Signature signature(String field) throws VerificationException {
    return Signature.copyOf(bytes, take(Signature.LENGTH, field), Signature.LENGTH);
  }

  public byte[] bytes(int length, String field) throws VerificationException {
    int at = take(length, field);
    byte[] out = new byte[length];
    System.arraycopy(bytes, at, out, 0, length);
    return out;
  }

  /** Requires that every byte has been read. */
  public void end() throws VerificationException {
    if (position != bytes.length) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING,
          what + " has " + (bytes.length - position) + " trailing bytes after byte " + position);
    }
  }
}
