package dev.capsulevm.pricing;

import dev.capsulevm.proofs.CanonicalReader;
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

  /**
   * Reads a fixed-length pricing object on top of the shared {@link CanonicalReader}: the length is
   * checked up front, and the typed readers add pricing's rules (no top bit set, versions, instants).
   */
  static final class Reader {
    private final CanonicalReader in;
    private final String what;

    Reader(byte[] bytes, int expectedLength, String what) throws VerificationException {
      if (bytes.length != expectedLength) {
        throw malformed(what + " is " + expectedLength + " bytes, got " + bytes.length);
      }
      this.in = new CanonicalReader(bytes, what);
      this.what = what;
    }

    int u8() throws VerificationException {
      return in.u8("a byte");
    }

    void version(int expected) throws VerificationException {
      int version = in.u8("version");
      if (version != expected) {
        throw malformed(what + " version " + version + ", expected " + expected);
      }
    }

    long nonNegativeLong(String field) throws VerificationException {
      long value = in.u64(field);
      if (value < 0) {
        throw malformed(what + " field " + field + " has its top bit set: " + Long.toUnsignedString(value));
      }
      return value;
    }

    int nonNegativeInt(String field) throws VerificationException {
      long value = in.u32(field);
      if (value > Integer.MAX_VALUE) {
        throw malformed(what + " field " + field + " has its top bit set: " + value);
      }
      return (int) value;
    }

    long anyLong() throws VerificationException {
      return in.u64("a value");
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

    Hash hash() throws VerificationException {
      return in.hash("a hash");
    }

    PublicKey key(String field) throws VerificationException {
      try {
        return in.publicKey(field);
      } catch (VerificationException e) {
        throw malformed(what + " field " + field + " is not an Ed25519 public key");
      }
    }

    Signature signature() throws VerificationException {
      return in.signature("signature");
    }

    void finish() throws VerificationException {
      in.end();
    }
  }
}
