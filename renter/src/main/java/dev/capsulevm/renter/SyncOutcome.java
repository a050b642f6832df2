package dev.capsulevm.renter;

import org.jspecify.annotations.Nullable;

/** How a sync session between two hosts ended (docs/PROTOCOL.md, "Reconciliation"). */
public enum SyncOutcome {
  /** The replicas already held the same records. */
  EQUAL,
  /** Records moved and the replicas now hold the same set. */
  CONVERGED,
  /** The session ended without the replicas holding the same set (a peer refused or lacked records). */
  DIVERGED,
  /** The session broke off (transport, timeout, or a peer that misbehaved). */
  FAILED,
  /**
   * A host refused the other's host key before any record moved: not the key pinned for that peer, or
   * not allowed to sync the capsule by an allow list.
   */
  REFUSED,
  /**
   * An outcome this SDK does not know: a newer host's. Counted as a problem, since nothing says the
   * replicas now agree; the report's error and counters are still the host's.
   */
  UNKNOWN;

  /** Whether an operator must look at it: the session did not leave the replicas known to be equal. */
  public boolean isProblem() {
    return this != EQUAL && this != CONVERGED;
  }

  /** The outcome on the wire; UNSPECIFIED is null (a session still running, or never run). */
  static @Nullable SyncOutcome fromWireOrNull(dev.capsulevm.proto.v1.SyncOutcome wire) {
    return switch (wire) {
      case SYNC_OUTCOME_UNSPECIFIED -> null;
      case SYNC_OUTCOME_EQUAL -> EQUAL;
      case SYNC_OUTCOME_CONVERGED -> CONVERGED;
      case SYNC_OUTCOME_DIVERGED -> DIVERGED;
      case SYNC_OUTCOME_FAILED -> FAILED;
      case SYNC_OUTCOME_REFUSED -> REFUSED;
      case UNRECOGNIZED -> UNKNOWN;
    };
  }
}
