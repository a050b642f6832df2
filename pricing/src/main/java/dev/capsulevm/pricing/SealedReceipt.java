package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Arrays;
import java.util.Objects;

/**
 * A receipt sealed with the key of the payment session that paid for its program (docs/FORMAT.md, "Sealed
 * receipt"): the body, then {@code HMAC-SHA256(session key, 0x3d || body)}. Only the renter and the host
 * know the key, so a seal the renter did not make is the host's: to the renter it is as authentic as a
 * signature and costs a microsecond where a signature and its check cost hundreds. It is no evidence to a
 * third party (the renter could have made it), so a renter asks for one only for programs whose receipts it
 * never shows anyone (docs/PROTOCOL.md, "Sealed receipts").
 */
public final class SealedReceipt {
  /** Bytes of the seal after the body. */
  public static final int SEAL_LENGTH = SessionKey.LENGTH;

  private final Receipt receipt;
  /** The receipt's canonical body, which the seal covers: encoded once, whether made or parsed. */
  private final byte[] body;
  private final byte[] seal;

  /** {@code receipt}, whose canonical body is {@code body}, with {@code seal}; both arrays are kept. */
  SealedReceipt(Receipt receipt, byte[] body, byte[] seal) {
    this.receipt = Objects.requireNonNull(receipt, "receipt");
    if (seal.length != SEAL_LENGTH) {
      throw new IllegalArgumentException("a seal is " + SEAL_LENGTH + " bytes, got " + seal.length);
    }
    this.body = body;
    this.seal = seal;
  }

  /** The receipt, not yet checked against any key. */
  public Receipt receipt() {
    return receipt;
  }

  /** The canonical encoding: the body followed by the 32-byte seal. */
  public byte[] encode() {
    byte[] out = Arrays.copyOf(body, body.length + SEAL_LENGTH);
    System.arraycopy(seal, 0, out, body.length, SEAL_LENGTH);
    return out;
  }

  /**
   * Parses exactly one canonical encoding; does not check the seal. The body's length follows from its
   * head count and message length, so the seal must be exactly the 32 bytes after it.
   */
  public static SealedReceipt parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    int bodyLength = Receipt.bodyLength(bytes);
    if (bytes.length != bodyLength + SEAL_LENGTH) {
      throw Codec.malformed("sealed receipt with a body of " + bodyLength + " bytes is "
          + (bodyLength + SEAL_LENGTH) + " bytes, got " + bytes.length);
    }
    byte[] body = Arrays.copyOf(bytes, bodyLength);
    return new SealedReceipt(Receipt.parseBody(body), body, Arrays.copyOfRange(bytes, bodyLength, bytes.length));
  }

  /**
   * Checks that the receipt names {@code hostKey} as its host and that {@code sessionKey} sealed it (in
   * constant time); returns the receipt.
   */
  public Receipt open(SessionKey sessionKey, PublicKey hostKey) throws PricingException {
    Receipt.requireHost(receipt, hostKey);
    if (!sessionKey.authentic(seal, Domain.RECEIPT_SEAL_MAC, body)) {
      throw new PricingException(PricingException.Reason.BAD_SIGNATURE,
          "receipt for program " + receipt.programId() + " is not sealed with its payment session's key");
    }
    return receipt;
  }

  @Override
  public String toString() {
    return "SealedReceipt[receipt=" + receipt + "]";
  }
}
