package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.time.Clock;
import java.util.Arrays;
import java.util.Objects;

/** A session request with the account holder's Ed25519 signature over its canonical body. */
public record SignedSessionRequest(SessionRequest request, Signature signature) {
  /** The length of the canonical encoding: body, then signature. */
  public static final int LENGTH = SessionRequest.BODY_LENGTH + Signature.LENGTH;

  public SignedSessionRequest {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(signature, "signature");
  }

  /** The canonical encoding: the body followed by the 64-byte signature. */
  public byte[] encode() {
    byte[] out = Arrays.copyOf(request.body(), LENGTH);
    signature.copyTo(out, SessionRequest.BODY_LENGTH);
    return out;
  }

  /** The session's id, {@code H(0x39 || signed request)}: every ticket and the grant name it. */
  public Hash sessionId() {
    return Sha256.hash(Domain.SESSION_ID, encode());
  }

  /** Parses exactly one canonical encoding; does not verify. */
  public static SignedSessionRequest parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != LENGTH) {
      throw Codec.malformed("signed session request is " + LENGTH + " bytes, got " + bytes.length);
    }
    SessionRequest r = SessionRequest.parseBody(Arrays.copyOf(bytes, SessionRequest.BODY_LENGTH));
    return new SignedSessionRequest(r, Signature.copyOf(bytes, SessionRequest.BODY_LENGTH, Signature.LENGTH));
  }

  /**
   * The stateless checks a host makes before holding anything: addressed to {@code hostKey}, under
   * {@code priceTableId}, not expired by {@code clock}, and signed by the account. The nonce and balance
   * are the holds' to check, atomically.
   */
  public SessionRequest verify(PublicKey hostKey, Hash priceTableId, Clock clock) throws PricingException {
    request.withdrawal().check("session request", Domain.SESSION_REQUEST_SIGNATURE, request.body(), signature,
        hostKey, priceTableId, clock);
    return request;
  }

}
