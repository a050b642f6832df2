package dev.capsulevm.renter;

import java.util.Objects;

/**
 * Thrown by {@link VerifiedOutput#payload()} for a sub-record whose payload the host dropped under the
 * capsule's retention policy, a verified answer ({@link DroppedSubRecord}); not host misbehaviour. Check
 * {@link VerifiedOutput#isDropped()} first to avoid it.
 */
public final class SubRecordDroppedException extends IllegalStateException {
  private static final long serialVersionUID = 1L;
  private final transient DroppedSubRecord dropped;

  public SubRecordDroppedException(DroppedSubRecord dropped) {
    super(dropped.describe());
    this.dropped = Objects.requireNonNull(dropped, "dropped");
  }

  /** What was dropped, and the witness and policy that let it go. */
  public DroppedSubRecord dropped() {
    return dropped;
  }
}
