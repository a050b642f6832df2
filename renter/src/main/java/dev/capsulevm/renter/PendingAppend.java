package dev.capsulevm.renter;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An append {@link CapsuleWriter#submitAppend submitted} without waiting for it: its program runs at the
 * host while the writer builds and sends the next ones, each chained on this one's last record. Its
 * outcome is settled in submission order (settling it settles every earlier one first), from the thread
 * that uses the writer: committed, or failed with the reason the host or the renter gave, or, when the
 * append it builds on was not committed, {@link AppendDependencyException} naming that one.
 */
public final class PendingAppend {
  private final CapsuleWriter writer;
  private final long sequence;
  private final List<RecordWithBody> records;
  private final @Nullable PendingAppend predecessorOrNull;
  final HostClient client;
  final PreparedProgram program;
  final @Nullable Amount budgetOrNull;
  /** The program's run, or null when submitting it failed (then {@link #submitFailureOrNull} says why). */
  final @Nullable ProgramRun runOrNull;
  final @Nullable RenterException submitFailureOrNull;

  private boolean settled;
  private boolean committed;
  private @Nullable ProgramResult resultOrNull;
  private @Nullable RenterException failureOrNull;

  PendingAppend(CapsuleWriter writer, long sequence, List<RecordWithBody> records,
      @Nullable PendingAppend predecessorOrNull, HostClient client, PreparedProgram program,
      @Nullable Amount budgetOrNull, @Nullable ProgramRun runOrNull, @Nullable RenterException submitFailureOrNull) {
    this.writer = writer;
    this.sequence = sequence;
    this.records = List.copyOf(records);
    this.predecessorOrNull = predecessorOrNull;
    this.client = client;
    this.program = program;
    this.budgetOrNull = budgetOrNull;
    this.runOrNull = runOrNull;
    this.submitFailureOrNull = submitFailureOrNull;
  }

  /** This append's number among the writer's submitted appends, from 1. */
  public long sequence() {
    return sequence;
  }

  /** The records this append carries, as built and signed (committed only once {@link #result} says so). */
  public List<RecordWithBody> records() {
    return records;
  }

  /** The hash of this append's last record, which the next pipelined append names as its parent. */
  public Hash lastRecord() {
    return records.get(records.size() - 1).hash();
  }

  /** The append this one builds on, or null when it was built on the writer's committed heads. */
  public @Nullable PendingAppend dependsOnOrNull() {
    return predecessorOrNull;
  }

  /** Whether the outcome is known (settled by {@link #result} of this or a later append, or by the writer). */
  public boolean isSettled() {
    return settled;
  }

  /**
   * Whether this append's records are in the capsule: it committed, or the host committed it and then
   * misbehaved ({@link WriteCommittedException}). False until settled.
   */
  public boolean isCommitted() {
    return committed;
  }

  /**
   * Waits for this append (settling every earlier pipelined append first, in order) and returns its
   * committed records.
   *
   * @throws AppendDependencyException the append it builds on was not committed, so neither was this one
   * @throws RenterException as {@link CapsuleWriter#appendRecords} throws, for this append's own failure
   */
  public List<RecordWithBody> result() throws RenterException {
    writer.settleThrough(this);
    RenterException failure = failureOrNull;
    if (failure != null) {
      throw failure;
    }
    return records;
  }

  /** The verified result of this append's program, once it committed; null otherwise. */
  public @Nullable ProgramResult programResultOrNull() {
    return resultOrNull;
  }

  /** Why this append failed, once settled; null when it committed cleanly or is not settled. */
  public @Nullable RenterException failureOrNull() {
    return failureOrNull;
  }

  void settle(boolean committed, @Nullable ProgramResult resultOrNull, @Nullable RenterException failureOrNull) {
    if (!committed && failureOrNull == null) {
      throw new IllegalArgumentException("an append that did not commit has a failure");
    }
    this.settled = true;
    this.committed = committed;
    this.resultOrNull = resultOrNull;
    this.failureOrNull = failureOrNull;
  }

  /** The failure of a settled append that did not commit. */
  RenterException failure() {
    return Objects.requireNonNull(failureOrNull, "settled without commit");
  }

  @Override
  public String toString() {
    return "append #" + sequence + " (" + records.size() + " record(s), last " + lastRecord() + ")";
  }
}
