package dev.capsulevm.pricing;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.jspecify.annotations.Nullable;

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

  static void putMillis(ByteBuffer out, Instant instant) {
    out.putLong(instant.toEpochMilli());
  }

  /** Writes {@code hashOrNull}, or 32 zero bytes for null (the encoding of "none"). */
  static void putHashOrZero(ByteBuffer out, @Nullable Hash hashOrNull) {
    out.put(hashOrNull == null ? new byte[Hash.LENGTH] : hashOrNull.toByteArray());
  }

  /**
   * Refuses an instant that a u64 millisecond field cannot carry exactly: before 1970, beyond 2^63 - 1
   * ms, or with a fraction of a millisecond (which the encoding would silently drop).
   */
  static void wholeMillis(String field, Instant instant) {
    boolean inRange;
    try {
      inRange = instant.toEpochMilli() >= 0;
    } catch (ArithmeticException e) {
      inRange = false;
    }
    if (!inRange || !instant.truncatedTo(ChronoUnit.MILLIS).equals(instant)) {
      throw new IllegalArgumentException(field + " is whole milliseconds since 1970, got " + instant);
    }
  }

  /** Whether {@code hash} is 32 zero bytes, which encodings use for "none". */
  static boolean isZero(Hash hash) {
    return hash.contentEquals(new byte[Hash.LENGTH], 0);
  }

  /**
   * Reads a pricing object on top of the shared {@link CanonicalReader}: a fixed length is checked up
   * front (a receipt's by {@link #finish()}), and the typed readers add pricing's rules (no top bit set,
   * versions, instants).
   */
  static final class Reader {
    private final CanonicalReader in;
    private final String what;

    Reader(byte[] bytes, int expectedLength, String what) throws VerificationException {
      this(bytes, what);
      if (bytes.length != expectedLength) {
        throw malformed(what + " is " + expectedLength + " bytes, got " + bytes.length);
      }
    }

    /** A reader for an object whose length follows from its fields; {@link #finish()} checks it. */
    Reader(byte[] bytes, String what) {
      this.in = new CanonicalReader(bytes, what);
      this.what = what;
    }

    int u8(String field) throws VerificationException {
      return in.u8(field);
    }

    int u16(String field) throws VerificationException {
      return in.u16(field);
    }

    long u32(String field) throws VerificationException {
      return in.u32(field);
    }

    byte[] bytes(int length, String field) throws VerificationException {
      return in.bytes(length, field);
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

    Instant millis(String field) throws VerificationException {
      return Instant.ofEpochMilli(nonNegativeLong(field));
    }

    Hash hash() throws VerificationException {
      return in.hash("a hash");
    }

    Hash hash(String field) throws VerificationException {
      return in.hash(field);
    }

    /** A hash field where 32 zero bytes mean "none". */
    @Nullable Hash hashOrNull(String field) throws VerificationException {
      Hash hash = in.hash(field);
      return isZero(hash) ? null : hash;
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
