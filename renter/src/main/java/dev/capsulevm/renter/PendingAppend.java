package dev.capsulevm.renter;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * An append {@link CapsuleWriter#submitAppend submitted} without waiting for it: its records are built and
 * signed at once, chained on the previous pending append's last record. It is sent in a flight
 * ({@link AppendPipeline}): one program with the other appends submitted while the flight before was on its
 * way, sent as soon as that flight holds the capsule at the host. Every output and receipt is verified as
 * always; the early send only orders the programs. Its outcome is settled in submission order (settling it
 * settles every earlier one first), from the thread that uses the writer: committed, or failed with the
 * reason the host or the renter gave, or, when the append it builds on was not committed,
 * {@link AppendDependencyException} naming that one. When a flight of several appends fails without
 * writing anything, its appends run again one program each as they settle, so that each gets its own
 * outcome.
 */
public final class PendingAppend {
  private final CapsuleWriter writer;
  private final long sequence;
  private final List<RecordWithBody> records;
  private final @Nullable PendingAppend predecessorOrNull;
  /** The heads it builds on: the previous pending append's last record, or the writer's heads. */
  private final List<RecordHeader> expectedHeads;
  private final long bytes;
  final HostClient client;
  final @Nullable Amount budgetOrNull;
  /**
   * The flight it was sent in; null when it was not sent: its flight could not be prepared
   * ({@link #submitFailureOrNull}), or the flight before ended without reaching its append, so it was held
   * back (its parent would be missing).
   */
  private final CompletableFuture<AppendPipeline.@Nullable Flight> dispatched = new CompletableFuture<>();

  // Written from gRPC and pool threads before dispatched completes.
  private volatile @Nullable RenterException submitFailureOrNull;

  // The caller's thread only.
  private boolean settled;
  private boolean committed;
  private @Nullable ProgramResult resultOrNull;
  private @Nullable RenterException failureOrNull;

  PendingAppend(CapsuleWriter writer, long sequence, List<RecordWithBody> records,
      @Nullable PendingAppend predecessorOrNull, List<RecordHeader> expectedHeads, long bytes, HostClient client,
      @Nullable Amount budgetOrNull) {
    this.writer = writer;
    this.sequence = sequence;
    this.records = List.copyOf(records);
    this.predecessorOrNull = predecessorOrNull;
    this.expectedHeads = List.copyOf(expectedHeads);
    this.bytes = bytes;
    this.client = client;
    this.budgetOrNull = budgetOrNull;
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

  /**
   * The verified result of the program that committed this append (shared by the appends of its flight),
   * once it committed; null otherwise.
   */
  public @Nullable ProgramResult programResultOrNull() {
    return resultOrNull;
  }

  /** Why this append failed, once settled; null when it committed cleanly or is not settled. */
  public @Nullable RenterException failureOrNull() {
    return failureOrNull;
  }

  /** The heads it builds on (what its program states when it runs alone). */
  List<RecordHeader> expectedHeads() {
    return expectedHeads;
  }

  /** The sub-record bytes it carries. */
  long bytes() {
    return bytes;
  }

  /** It went in {@code flight}, now being sent. */
  void sentIn(AppendPipeline.Flight flight) {
    dispatched.complete(flight);
  }

  /** Its flight could not be prepared: nothing was sent. */
  void notSent(RenterException failure) {
    submitFailureOrNull = failure;
    dispatched.complete(null);
  }

  /** Not sent: the flight before it ended without reaching its append. */
  void holdBack() {
    dispatched.complete(null);
  }

  /** Waits until it was sent in a flight (returned) or will not be (null). */
  AppendPipeline.@Nullable Flight flightOrNull() {
    return dispatched.join();
  }

  @Nullable RenterException submitFailureOrNull() {
    return submitFailureOrNull;
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
