package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.util.Arrays;
import java.util.Objects;

/** A session grant with the host's Ed25519 signature over its canonical body. */
public record SignedSessionGrant(SessionGrant grant, Signature signature) {
  /** The length of the canonical encoding: body, then signature. */
  public static final int LENGTH = SessionGrant.BODY_LENGTH + Signature.LENGTH;

  public SignedSessionGrant {
    Objects.requireNonNull(grant, "grant");
    Objects.requireNonNull(signature, "signature");
  }

  /** The canonical encoding: the body followed by the 64-byte signature. */
  public byte[] encode() {
    byte[] out = Arrays.copyOf(grant.body(), LENGTH);
    signature.copyTo(out, SessionGrant.BODY_LENGTH);
    return out;
  }

  /** Parses exactly one canonical encoding; does not verify. */
  public static SignedSessionGrant parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != LENGTH) {
      throw Codec.malformed("signed session grant is " + LENGTH + " bytes, got " + bytes.length);
    }
    SessionGrant g = SessionGrant.parseBody(Arrays.copyOf(bytes, SessionGrant.BODY_LENGTH));
    return new SignedSessionGrant(g, Signature.copyOf(bytes, SessionGrant.BODY_LENGTH, Signature.LENGTH));
  }

  /** The renter's check: the grant answers the session {@code sessionId} and is signed by {@code hostKey}. */
  public SessionGrant verify(PublicKey hostKey, Hash sessionId) throws VerificationException {
    if (!grant.sessionId().equals(sessionId)) {
      throw new VerificationException(VerificationException.Failure.WRONG_TARGET, "session grant names session " + grant.sessionId() + ", the request was "
          + sessionId);
    }
    if (!hostKey.verify(Domain.SESSION_GRANT_SIGNATURE, grant.body(), signature)) {
      throw new VerificationException(VerificationException.Failure.BAD_SIGNATURE, "session grant for " + sessionId + " is not signed by host " + hostKey);
    }
    return grant;
  }
}
