package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import org.jspecify.annotations.Nullable;

/**
 * A pipelined append was not committed because the append it builds on was not: its first record names
 * that append's last record as its parent, which is not in the capsule, so the host refused it (or it was
 * never sent) and nothing of it was written. The cause is the failure of the append depended on; the
 * host's own refusal of this one, when there was one, is suppressed here. Build the records again on the
 * writer's heads ({@link CapsuleWriter#heads()}, settled) to append them.
 */
public final class AppendDependencyException extends RenterException {
  private static final long serialVersionUID = 1L;

  private final long sequence;
  private final long dependedOn;
  private final Hash dependedOnRecord;

  AppendDependencyException(PendingAppend failed, PendingAppend dependedOn, RenterException dependedOnFailure,
      @Nullable RenterException ownFailureOrNull) {
    super("pipelined append #" + failed.sequence() + " was not committed: it builds on record "
        + dependedOn.lastRecord() + " of append #" + dependedOn.sequence() + ", which was not committed ("
        + dependedOnFailure.getMessage() + ")", dependedOnFailure);
    this.sequence = failed.sequence();
    this.dependedOn = dependedOn.sequence();
    this.dependedOnRecord = dependedOn.lastRecord();
    if (ownFailureOrNull != null) {
      addSuppressed(ownFailureOrNull);
    }
  }

  /** The sequence number of the append that failed this way. */
  public long sequence() {
    return sequence;
  }

  /** The sequence number of the append it built on, which was not committed. */
  public long dependedOn() {
    return dependedOn;
  }

  /** The last record of the append it built on: the parent that is not in the capsule. */
  public Hash dependedOnRecord() {
    return dependedOnRecord;
  }
}
