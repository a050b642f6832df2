package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A receipt with the host's Ed25519 signature over its canonical body. A receipt the host issues ({@link
 * Receipt#sign}) is signed when its signature is first needed ({@link #signature}, {@link #encode},
 * {@link #verify}): a session program whose receipt the host seals with the session key instead ({@link
 * SealedReceipt}) never pays for a signature.
 */
public final class SignedReceipt {
  private final Receipt receipt;
  private final @Nullable SigningKey signerOrNull;
  private volatile @Nullable Signature signature;

  /** A receipt with a signature made or parsed already. */
  public SignedReceipt(Receipt receipt, Signature signature) {
    this.receipt = Objects.requireNonNull(receipt, "receipt");
    this.signature = Objects.requireNonNull(signature, "signature");
    this.signerOrNull = null;
  }

  private SignedReceipt(Receipt receipt, SigningKey signer) {
    this.receipt = receipt;
    this.signerOrNull = signer;
  }

  /** {@code receipt}, to be signed by {@code signer} (its host) when the signature is first read. */
  static SignedReceipt deferred(Receipt receipt, SigningKey signer) {
    return new SignedReceipt(receipt, signer);
  }

  /** The receipt. */
  public Receipt receipt() {
    return receipt;
  }

  /** The host's signature over {@code 0x32 || body}, made now if it was not yet. */
  public Signature signature() {
    Signature s = signature;
    if (s == null) {
      synchronized (this) {
        s = signature;
        if (s == null) {
          s = Objects.requireNonNull(signerOrNull, "a receipt without a signature has its signer")
              .sign(Domain.RECEIPT_SIGNATURE, receipt.body());
          signature = s;
        }
      }
    }
    return s;
  }

  /** The canonical encoding: the body followed by the 64-byte signature. */
  public byte[] encode() {
    byte[] body = receipt.body();
    byte[] out = Arrays.copyOf(body, body.length + Signature.LENGTH);
    signature().copyTo(out, body.length);
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
    Receipt.requireHost(receipt, hostKey);
    if (!hostKey.verify(Domain.RECEIPT_SIGNATURE, receipt.body(), signature())) {
      throw new PricingException(PricingException.Reason.BAD_SIGNATURE,
          "receipt for program " + receipt.programId() + " is not signed by host " + hostKey);
    }
    return receipt;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof SignedReceipt other && receipt.equals(other.receipt) && signature().equals(other.signature());
  }

  @Override
  public int hashCode() {
    return receipt.hashCode() * 31 + signature().hashCode();
  }

  @Override
  public String toString() {
    return "SignedReceipt[receipt=" + receipt + ", signature=" + signature() + "]";
  }
}
