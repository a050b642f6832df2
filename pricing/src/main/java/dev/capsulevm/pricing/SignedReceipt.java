package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.util.Arrays;
import java.util.Objects;

/** A receipt with the host's Ed25519 signature over its canonical body. */
public record SignedReceipt(Receipt receipt, Signature signature) {
  /** The length of the canonical encoding: body, then signature. */
  public static final int LENGTH = Receipt.BODY_LENGTH + Signature.LENGTH;

  public SignedReceipt {
    Objects.requireNonNull(receipt, "receipt");
    Objects.requireNonNull(signature, "signature");
  }

  /** The canonical encoding: the body followed by the 64-byte signature. */
  public byte[] encode() {
    byte[] out = Arrays.copyOf(receipt.body(), LENGTH);
    signature.copyTo(out, Receipt.BODY_LENGTH);
    return out;
  }

  /** Parses exactly one canonical encoding; does not verify. */
  public static SignedReceipt parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != LENGTH) {
      throw Codec.malformed("signed receipt is " + LENGTH + " bytes, got " + bytes.length);
    }
    Receipt receipt = Receipt.parseBody(Arrays.copyOf(bytes, Receipt.BODY_LENGTH));
    return new SignedReceipt(receipt, Signature.copyOf(bytes, Receipt.BODY_LENGTH, Signature.LENGTH));
  }

  /** Checks the host's signature and returns the receipt. */
  public Receipt verify(PublicKey hostKey) throws PricingException {
    if (!hostKey.verify(Domain.RECEIPT_SIGNATURE, receipt.body(), signature)) {
      throw new PricingException(PricingException.Reason.BAD_SIGNATURE,
          "receipt for program " + receipt.programId() + " is not signed by host " + hostKey);
    }
    return receipt;
  }
}
