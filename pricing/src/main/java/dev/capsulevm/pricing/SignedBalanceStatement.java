package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.util.Arrays;
import java.util.Objects;

/** A balance statement with the host's Ed25519 signature over its canonical body. */
public record SignedBalanceStatement(BalanceStatement statement, Signature signature) {
  /** The length of the canonical encoding: body, then signature. */
  public static final int LENGTH = BalanceStatement.BODY_LENGTH + Signature.LENGTH;

  public SignedBalanceStatement {
    Objects.requireNonNull(statement, "statement");
    Objects.requireNonNull(signature, "signature");
  }

  /** The canonical encoding: the body followed by the 64-byte signature. */
  public byte[] encode() {
    byte[] out = Arrays.copyOf(statement.body(), LENGTH);
    signature.copyTo(out, BalanceStatement.BODY_LENGTH);
    return out;
  }

  /** Parses exactly one canonical encoding; does not verify. */
  public static SignedBalanceStatement parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != LENGTH) {
      throw Codec.malformed("signed balance statement is " + LENGTH + " bytes, got " + bytes.length);
    }
    BalanceStatement statement = BalanceStatement.parseBody(Arrays.copyOf(bytes, BalanceStatement.BODY_LENGTH));
    return new SignedBalanceStatement(statement,
        Signature.copyOf(bytes, BalanceStatement.BODY_LENGTH, Signature.LENGTH));
  }

  /**
   * Checks that the statement names {@code hostKey} as its host and that this key signed it; returns the
   * statement. Whether it is about the account asked for, and recent, is the caller's to check.
   */
  public BalanceStatement verify(PublicKey hostKey) throws PricingException {
    if (!statement.hostKey().equals(hostKey)) {
      throw new PricingException(PricingException.Reason.WRONG_HOST,
          "balance statement names host " + statement.hostKey() + ", not " + hostKey);
    }
    if (!hostKey.verify(Domain.BALANCE_STATEMENT_SIGNATURE, statement.body(), signature)) {
      throw new PricingException(PricingException.Reason.BAD_SIGNATURE,
          "balance statement of account " + statement.account() + " is not signed by host " + hostKey);
    }
    return statement;
  }
}
