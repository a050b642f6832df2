package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;

/**
 * Where a {@link Meter} hands the unspent part of a budget when the program ends. A host's refunder
 * ({@link Reservations#refunderFor}) writes the program's {@link Settlement} (the budget less this refund)
 * and gives the budget's hold back; nothing was taken before, so nothing is paid back.
 */
@FunctionalInterface
public interface Refunder {
  /**
   * Settles program {@code programId}, which gives back {@code amount} of its budget; called at most once
   * per program, and not at all when the program settled through {@link Meter#closeThrough}'s sink.
   */
  void refund(Amount amount, Hash programId);
}
