package dev.capsulevm.renter;

/** How a sync session between two hosts ended (docs/PROTOCOL.md, "Reconciliation"). */
public enum SyncOutcome {
  /** The replicas already held the same records. */
  EQUAL,
  /** Records moved and the replicas now hold the same set. */
  CONVERGED,
  /** The session ended without the replicas holding the same set (a peer refused or lacked records). */
  DIVERGED,
  /** The session broke off (transport, timeout, or a peer that misbehaved). */
  FAILED;

  /** Whether an operator must look at it: the session failed or left the replicas different. */
  public boolean isProblem() {
    return this == DIVERGED || this == FAILED;
  }

  /**
   * The outcome a wire string names; the empty string is null (a session still running).
   *
   * @throws IllegalArgumentException for any other string
   */
  static SyncOutcome parseOrNull(String wire) {
    if (wire.isEmpty()) {
      return null;
    }
    for (SyncOutcome o : values()) {
      if (o.name().equals(wire)) {
        return o;
      }
    }
    throw new IllegalArgumentException("unknown sync outcome '" + wire + "'");
  }
}
