package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;

/** A strict big-endian reader over canonical bytes: every short read or leftover byte is an error. */
final class Reader {
  private final byte[] bytes;
  private final String what;
  private int position;

  Reader(byte[] bytes, String what) {
    this.bytes = bytes;
    this.what = what;
  }

  int position() {
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

  int u8(String field) throws VerificationException {
    return bytes[take(1, field)] & 0xff;
  }

  int u16(String field) throws VerificationException {
    int at = take(2, field);
    return (bytes[at] & 0xff) << 8 | (bytes[at + 1] & 0xff);
  }

  long u32(String field) throws VerificationException {
    int at = take(4, field);
    return ((long) (bytes[at] & 0xff) << 24
        | (bytes[at + 1] & 0xff) << 16
        | (bytes[at + 2] & 0xff) << 8
        | (bytes[at + 3] & 0xff));
  }

  long u64(String field) throws VerificationException {
    int at = take(8, field);
    long value = 0;
    for (int i = 0; i < 8; i++) {
      value = value << 8 | (bytes[at + i] & 0xff);
    }
    return value;
  }

  Hash hash(String field) throws VerificationException {
    return Hash.copyOf(bytes, take(Hash.LENGTH, field), Hash.LENGTH);
  }

  PublicKey publicKey(String field) throws VerificationException {
    int at = take(PublicKey.LENGTH, field);
    try {
      return PublicKey.copyOf(bytes, at, PublicKey.LENGTH);
    } catch (IllegalArgumentException e) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, what + " " + field + ": " + e.getMessage());
    }
  }

  Signature signature(String field) throws VerificationException {
    return Signature.copyOf(bytes, take(Signature.LENGTH, field), Signature.LENGTH);
  }

  byte[] bytes(int length, String field) throws VerificationException {
    int at = take(length, field);
    byte[] out = new byte[length];
    System.arraycopy(bytes, at, out, 0, length);
    return out;
  }

  void end() throws VerificationException {
    if (position != bytes.length) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING,
          what + " has " + (bytes.length - position) + " trailing bytes after byte " + position);
    }
  }
}
