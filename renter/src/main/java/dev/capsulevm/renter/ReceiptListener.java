package dev.capsulevm.renter;

import dev.capsulevm.pricing.SignedReceipt;

/**
 * Hears of every receipt a {@link HostClient} verifies ({@link RenterOptions#withReceiptListener}): a
 * completed program's, a failed one's and a refused append's, each once it matched the renter's own
 * recomputation and before the program's result or failure reaches the caller. Called in the gRPC
 * thread, so it should be quick; a {@link RuntimeException} it throws is dropped (the program's outcome
 * does not depend on it), so a listener reports its own problems.
 */
@FunctionalInterface
public interface ReceiptListener {
  /** {@code receipt} of {@code program}, verified. */
  void verified(PreparedProgram program, SignedReceipt receipt);
}
