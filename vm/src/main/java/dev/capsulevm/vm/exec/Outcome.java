package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.SignedReceipt;
import java.util.Objects;

/** What {@link Executor#run} returns: a finished read-only program, or a read-write one awaiting commit. */
public sealed interface Outcome permits Outcome.Finished, PendingCommit {
  /** A read-only program finished; its meter is closed and this is its signed receipt. */
  record Finished(SignedReceipt receipt) implements Outcome {
    public Finished {
      Objects.requireNonNull(receipt, "receipt");
    }
  }
}
