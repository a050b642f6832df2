package dev.capsulevm.pricing;

import java.util.Objects;

/**
 * A payment, price or budget rule was broken; {@link #reason()} says which, and the message names the
 * offending field and values so a caller can map it to a protocol status without parsing text.
 */
public class PricingException extends Exception {
  private static final long serialVersionUID = 1L;

  /** The rule that was broken. */
  public enum Reason {
    /** A signature by the host or the account holder does not verify. */
    BAD_SIGNATURE,
    /** The price table's validity window has not started yet. */
    NOT_YET_VALID,
    /** The price table's validity window or the withdrawal's expiry has passed. */
    EXPIRED,
    /** A withdrawal expires further ahead than the host keeps nonces for. */
    EXPIRY_TOO_FAR,
    /** A withdrawal or receipt names a different host than the one checking it. */
    WRONG_HOST,
    /** A withdrawal names a different price table than the one in force. */
    WRONG_PRICE_TABLE,
    /** The account holds less than the withdrawal asks for, counting what it holds for programs in flight. */
    INSUFFICIENT_BALANCE,
    /**
     * The host already holds as much as it risks for programs whose charge is not written yet
     * ({@link Reservations}); retry once some end.
     */
    UNCOMMITTED_RISK,
    /** The withdrawal's nonce was already used by this account. */
    REPLAYED_NONCE,
    /** A deposit would take the account above the host's maximum balance. */
    BALANCE_LIMIT,
    /** A charge would exceed what is left of a program's budget. */
    BUDGET_EXCEEDED,
    /** A price table asks more than the renter's maximum for some price. */
    PRICE_ABOVE_MAXIMUM,
    /** A program breaks one of the limits the price table sets. */
    LIMIT_EXCEEDED,
    /** A receipt disagrees with the renter's own recomputation of the cost. */
    RECEIPT_MISMATCH
  }

  private final Reason reason;

  public PricingException(Reason reason, String message) {
    super(reason + ": " + message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** The rule that was broken. */
  public Reason reason() {
    return reason;
  }
}
