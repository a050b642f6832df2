package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;

/** Where a {@link Meter} returns the unspent part of a budget, typically the paying account's ledger entry. */
@FunctionalInterface
public interface Refunder {
  /**
   * Credits {@code amount} back for program {@code programId} (the meter's, so that a ledger can name the
   * last program settled against the account); called at most once per program, and not at all when
   * the refund went through {@link Meter#closeThrough}'s sink.
   */
  void refund(Amount amount, Hash programId);
}
