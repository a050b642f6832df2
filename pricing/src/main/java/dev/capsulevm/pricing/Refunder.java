package dev.capsulevm.pricing;

/** Where a {@link Meter} returns the unspent part of a budget, typically the paying account's ledger entry. */
@FunctionalInterface
public interface Refunder {
  /** Credits {@code amount} back; called exactly once per program. */
  void refund(Amount amount);
}
