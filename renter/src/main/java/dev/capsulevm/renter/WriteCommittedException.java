package dev.capsulevm.renter;

import dev.capsulevm.proofs.capsule.Record;
import java.util.List;
import java.util.Objects;

/**
 * The write is committed, but the host misbehaved in how it ended the program: the renter confirmed the
 * commit, then the {@code ProgramEnd} or its receipt failed verification ({@link #misbehaviour()}), and a
 * verified {@code Heads} program (with proofs where the records are no longer heads) showed the
 * program's records in the capsule, or its capsules created. Distinct from
 * {@link HostMisbehaviourException}, which means that nothing was confirmed. {@link CapsuleWriter}
 * adopts {@link #committedHeads()} before rethrowing, so its heads stay true.
 */
public final class WriteCommittedException extends RenterException {
  private static final long serialVersionUID = 1L;

  private final transient List<Record> committedHeads;
  private final HostMisbehaviourException misbehaviour;

  public WriteCommittedException(List<Record> committedHeads, HostMisbehaviourException misbehaviour) {
    super("the write is committed (checked against the capsule's heads), but the host misbehaved in its end: "
        + misbehaviour.getMessage(), misbehaviour);
    this.committedHeads = List.copyOf(committedHeads);
    this.misbehaviour = Objects.requireNonNull(misbehaviour, "misbehaviour");
  }

  /**
   * The capsule's heads as verified after the write, at or above its records; empty when the program
   * only created capsules.
   */
  public List<Record> committedHeads() {
    return committedHeads;
  }

  /** What failed verification in the program's end. */
  public HostMisbehaviourException misbehaviour() {
    return misbehaviour;
  }
}
