package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One program paid from a payment session, in place of a signed withdrawal (docs/FORMAT.md, "Ticket"): the
 * session, the ticket's number in it (used once), the program's budget, and an HMAC-SHA256 under the
 * session key over those and the program's encoding, so the ticket pays for that program only. The
 * program id a receipt names is then {@code H(0x34 || program encoding || ticket)}.
 */
public final class Ticket {
  static final int VERSION = 1;
  /** The length of the part the MAC covers, before the MAC. */
  public static final int BODY_LENGTH = 1 + Hash.LENGTH + 8 + 8;
  /** The length of the canonical encoding. */
  public static final int LENGTH = BODY_LENGTH + SessionKey.LENGTH;

  private final Hash sessionId;
  private final long counter;
  private final Amount budget;
  private final byte[] mac;

  private Ticket(Hash sessionId, long counter, Amount budget, byte[] mac) {
    this.sessionId = sessionId;
    this.counter = counter;
    this.budget = budget;
    this.mac = mac;
  }

  /**
   * The ticket numbered {@code counter} of session {@code sessionId} paying {@code budget} for the program
   * encoded as {@code programEncoding}.
   */
  public static Ticket issue(SessionKey key, Hash sessionId, long counter, Amount budget, byte[] programEncoding) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(sessionId, "sessionId");
    Objects.requireNonNull(budget, "budget");
    if (counter < 0) {
      throw new IllegalArgumentException("a ticket's counter is below 2^63, got " + Long.toUnsignedString(counter));
    }
    byte[] body = body(sessionId, counter, budget);
    return new Ticket(sessionId, counter, budget, key.mac(Domain.TICKET_MAC, body, programDigest(programEncoding)));
  }

  private static byte[] body(Hash sessionId, long counter, Amount budget) {
    ByteBuffer out = ByteBuffer.allocate(BODY_LENGTH);
    out.put((byte) VERSION);
    Codec.putHash(out, sessionId);
    out.putLong(counter);
    Codec.putAmount(out, budget);
    return out.array();
  }

  private static byte[] programDigest(byte[] programEncoding) {
    return Sha256.untagged(programEncoding).toByteArray();
  }

  /** The session that pays. */
  public Hash sessionId() {
    return sessionId;
  }

  /** The ticket's number in its session, used once. */
  public long counter() {
    return counter;
  }

  /** The program's budget, held from the session's remainder while it runs. */
  public Amount budget() {
    return budget;
  }

  /** The canonical encoding: the body, then the 32-byte MAC. */
  public byte[] encode() {
    byte[] out = Arrays.copyOf(body(sessionId, counter, budget), LENGTH);
    System.arraycopy(mac, 0, out, BODY_LENGTH, SessionKey.LENGTH);
    return out;
  }

  /** Parses exactly one canonical encoding; does not authenticate (that needs the session's key). */
  public static Ticket parse(byte[] bytes) throws VerificationException {
    Codec.Reader in = new Codec.Reader(bytes, LENGTH, "ticket");
    in.version(VERSION);
    Hash sessionId = in.hash("sessionId");
    long counter = in.nonNegativeLong("counter");
    Amount budget = in.amount("budget");
    byte[] mac = in.bytes(SessionKey.LENGTH, "mac");
    in.finish();
    return new Ticket(sessionId, counter, budget, mac);
  }

  /** Whether the session key made this ticket for the program encoded as {@code programEncoding}. */
  public boolean authentic(SessionKey key, byte[] programEncoding) {
    return key.authentic(mac, Domain.TICKET_MAC, body(sessionId, counter, budget), programDigest(programEncoding));
  }

  @Override
  public String toString() {
    return "ticket " + counter + " of session " + sessionId + " paying " + budget.units() + " units";
  }
}
