package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.util.Arrays;
import java.util.Objects;

/** A receipt with the host's Ed25519 signature over its canonical body. */
public record SignedReceipt(Receipt receipt, Signature signature) {
  public SignedReceipt {
    Objects.requireNonNull(receipt, "receipt");
    Objects.requireNonNull(signature, "signature");
  }

  /** The canonical encoding: the body followed by the 64-byte signature. */
  public byte[] encode() {
    byte[] body = receipt.body();
    byte[] out = Arrays.copyOf(body, body.length + Signature.LENGTH);
    signature.copyTo(out, body.length);
    return out;
  }

  /**
   * Parses exactly one canonical encoding; does not verify. The body's length follows from its head
   * count and message length, so the signature must be exactly the 64 bytes after it.
   */
  public static SignedReceipt parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    int bodyLength = Receipt.bodyLength(bytes);
    if (bytes.length != bodyLength + Signature.LENGTH) {
      throw Codec.malformed("signed receipt with a body of " + bodyLength + " bytes is "
          + (bodyLength + Signature.LENGTH) + " bytes, got " + bytes.length);
    }
    Receipt receipt = Receipt.parseBody(Arrays.copyOf(bytes, bodyLength));
    return new SignedReceipt(receipt, Signature.copyOf(bytes, bodyLength, Signature.LENGTH));
  }

  /**
   * Checks that the receipt names {@code hostKey} as its host and that this key signed it; returns the
   * receipt. A receipt naming another host is refused even if that host's signature is valid, so a
   * receipt cannot be passed off as coming from a host that never issued it.
   */
  public Receipt verify(PublicKey hostKey) throws PricingException {
    if (!receipt.hostKey().equals(hostKey)) {
      throw new PricingException(PricingException.Reason.WRONG_HOST,
          "receipt for program " + receipt.programId() + " names host " + receipt.hostKey() + ", not " + hostKey);
    }
    if (!hostKey.verify(Domain.RECEIPT_SIGNATURE, receipt.body(), signature)) {
      throw new PricingException(PricingException.Reason.BAD_SIGNATURE,
          "receipt for program " + receipt.programId() + " is not signed by host " + hostKey);
    }
    return receipt;
  }
}
