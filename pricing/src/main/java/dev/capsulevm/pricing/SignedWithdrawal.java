package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.time.Clock;
import java.util.Arrays;
import java.util.Objects;

/** A withdrawal with the account holder's Ed25519 signature over its canonical body. */
public record SignedWithdrawal(Withdrawal withdrawal, Signature signature) {
  /** The length of the canonical encoding: body, then signature. */
  public static final int LENGTH = Withdrawal.BODY_LENGTH + Signature.LENGTH;

  public SignedWithdrawal {
    Objects.requireNonNull(withdrawal, "withdrawal");
    Objects.requireNonNull(signature, "signature");
  }

  /** The canonical encoding: the body followed by the 64-byte signature. */
  public byte[] encode() {
    byte[] out = Arrays.copyOf(withdrawal.body(), LENGTH);
    signature.copyTo(out, Withdrawal.BODY_LENGTH);
    return out;
  }

  /** Parses exactly one canonical encoding; does not verify. */
  public static SignedWithdrawal parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != LENGTH) {
      throw Codec.malformed("signed withdrawal is " + LENGTH + " bytes, got " + bytes.length);
    }
    Withdrawal w = Withdrawal.parseBody(Arrays.copyOf(bytes, Withdrawal.BODY_LENGTH));
    return new SignedWithdrawal(w, Signature.copyOf(bytes, Withdrawal.BODY_LENGTH, Signature.LENGTH));
  }

  /**
   * The stateless checks a host makes before touching the ledger: addressed to {@code hostKey}, under
   * {@code priceTableId}, not expired by {@code clock}, and signed by the account. The nonce and
   * balance are the ledger's to check, atomically.
   */
  public Withdrawal verify(PublicKey hostKey, Hash priceTableId, Clock clock) throws PricingException {
    withdrawal.check("withdrawal", Domain.WITHDRAWAL_SIGNATURE, withdrawal.body(), signature, hostKey, priceTableId,
        clock);
    return withdrawal;
  }

}
