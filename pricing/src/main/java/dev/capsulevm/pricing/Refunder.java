package dev.capsulevm.pricing;

/** Where a {@link Meter} returns the unspent part of a budget, typically the paying account's ledger entry. */
@FunctionalInterface
public interface Refunder {
  /**
   * Credits {@code amount} back; called at most once per program, and not at all when the refund went
   * through {@link Meter#closeThrough}'s sink.
   */
  void refund(Amount amount);
}
