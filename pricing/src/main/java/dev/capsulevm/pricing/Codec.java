package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.nio.ByteBuffer;
import java.time.Instant;

/** Big-endian fixed-width writing and strict reading shared by every canonical encoding here. */
final class Codec {
  private Codec() {}

  static VerificationException malformed(String message) {
    return new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, message);
  }

  static void putAmount(ByteBuffer out, Amount amount) {
    out.putLong(amount.units());
  }

  static void putKey(ByteBuffer out, PublicKey key) {
    out.put(key.toByteArray());
  }

  static void putHash(ByteBuffer out, Hash hash) {
    out.put(hash.toByteArray());
  }

  static void putSeconds(ByteBuffer out, Instant instant) {
    out.putLong(instant.getEpochSecond());
  }

  /** Reads a fixed-length object; every read checks bounds and {@link #finish} rejects leftovers. */
  static final class Reader {
    private final ByteBuffer in;
    private final String what;

    Reader(byte[] bytes, int expectedLength, String what) throws VerificationException {
      if (bytes.length != expectedLength) {
        throw malformed(what + " is " + expectedLength + " bytes, got " + bytes.length);
      }
      this.in = ByteBuffer.wrap(bytes);
      this.what = what;
    }

    int u8() {
      return in.get() & 0xff;
    }

    void version(int expected) throws VerificationException {
      int version = u8();
      if (version != expected) {
        throw malformed(what + " version " + version + ", expected " + expected);
      }
    }

    long nonNegativeLong(String field) throws VerificationException {
      long value = in.getLong();
      if (value < 0) {
        throw malformed(what + " field " + field + " has its top bit set: " + Long.toUnsignedString(value));
      }
      return value;
    }

    int nonNegativeInt(String field) throws VerificationException {
      int value = in.getInt();
      if (value < 0) {
        throw malformed(what + " field " + field + " has its top bit set: " + Integer.toUnsignedString(value));
      }
      return value;
    }

    long anyLong() {
      return in.getLong();
    }

    Amount amount(String field) throws VerificationException {
      return Amount.of(nonNegativeLong(field));
    }

    Instant seconds(String field) throws VerificationException {
      long seconds = nonNegativeLong(field);
      if (seconds > Instant.MAX.getEpochSecond()) {
        throw malformed(what + " field " + field + " is beyond the last representable instant: " + seconds);
      }
      return Instant.ofEpochSecond(seconds);
    }

    Hash hash() {
      byte[] b = new byte[Hash.LENGTH];
      in.get(b);
      return Hash.copyOf(b);
    }

    PublicKey key(String field) throws VerificationException {
      byte[] b = new byte[PublicKey.LENGTH];
      in.get(b);
      try {
        return PublicKey.copyOf(b);
      } catch (IllegalArgumentException e) {
        throw malformed(what + " field " + field + " is not an Ed25519 public key");
      }
    }

    Signature signature() {
      byte[] b = new byte[Signature.LENGTH];
      in.get(b);
      return Signature.copyOf(b);
    }

    void finish() throws VerificationException {
      if (in.hasRemaining()) {
        throw malformed(what + " has " + in.remaining() + " trailing bytes");
      }
    }
  }
}
