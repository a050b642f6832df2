package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A host's answer to a session request: the session it opened and the host's half of the session key.
 * Signed, so the renter knows the key it agrees with is the host's and not a man in the middle's.
 */
public record SessionGrant(Hash sessionId, ExchangeKey exchangeKey) {
  static final int VERSION = 1;
  /** The length of the canonical body. */
  public static final int BODY_LENGTH = 1 + Hash.LENGTH + ExchangeKey.LENGTH;

  public SessionGrant {
    Objects.requireNonNull(sessionId, "sessionId");
    Objects.requireNonNull(exchangeKey, "exchangeKey");
  }

  /** The canonical body: the bytes the host signs. */
  public byte[] body() {
    ByteBuffer out = ByteBuffer.allocate(BODY_LENGTH);
    out.put((byte) VERSION);
    Codec.putHash(out, sessionId);
    out.put(exchangeKey.toByteArray());
    return out.array();
  }

  /** Signs the body with the host's key. */
  public SignedSessionGrant sign(SigningKey hostKey) {
    return new SignedSessionGrant(this, hostKey.sign(Domain.SESSION_GRANT_SIGNATURE, body()));
  }

  /** Parses exactly one canonical body. */
  public static SessionGrant parseBody(byte[] body) throws VerificationException {
    Codec.Reader in = new Codec.Reader(body, BODY_LENGTH, "session grant body");
    in.version(VERSION);
    Hash sessionId = in.hash("sessionId");
    ExchangeKey exchange = ExchangeKey.copyOf(in.bytes(ExchangeKey.LENGTH, "exchangeKey"));
    in.finish();
    return new SessionGrant(sessionId, exchange);
  }
}
