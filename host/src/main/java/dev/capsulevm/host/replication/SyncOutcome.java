package dev.capsulevm.host.replication;

import dev.capsulevm.host.sync.Reconciler;

/** How a sync session this host opened ended; docs/PROTOCOL.md, "The Sync service". */
public enum SyncOutcome {
  /** The replicas already held the same records. */
  EQUAL,
  /** Records moved and the replicas now hold the same set. */
  CONVERGED,
  /** The session ended with the sets still different (a peer withheld records, or sent orphans). */
  DIVERGED,
  /** The session broke off: transport, timeout, a busy or backed-off peer, or a peer that misbehaved. */
  FAILED,
  /**
   * A side refused the other's host key before any record moved: the peer presented another key than
   * the one pinned for it, or one side's allow list does not let the other pull the capsule.
   */
  REFUSED;

  /** Whether the replicas are known to hold the same set now. */
  public boolean ok() {
    return this == EQUAL || this == CONVERGED;
  }

  /** The outcome on the Admin service's wire. */
  public dev.capsulevm.proto.v1.SyncOutcome wire() {
    return switch (this) {
      case EQUAL -> dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_EQUAL;
      case CONVERGED -> dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_CONVERGED;
      case DIVERGED -> dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_DIVERGED;
      case FAILED -> dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_FAILED;
      case REFUSED -> dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_REFUSED;
    };
  }

  /** The outcome of a session whose reconciler finished. */
  static SyncOutcome of(Reconciler.Outcome outcome) {
    return switch (outcome) {
      case EQUAL -> EQUAL;
      case CONVERGED -> CONVERGED;
      case DIVERGED -> DIVERGED;
      case RUNNING -> throw new IllegalArgumentException("the session has not ended");
    };
  }
}
