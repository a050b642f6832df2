package dev.capsulevm.renter;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * An append {@link CapsuleWriter#submitAppend submitted} without waiting for it: its records are built and
 * signed at once, chained on the previous pending append's last record, and its program is prepared at
 * once too (priced and paid: its withdrawal signed, or a session's ticket taken). The program is sent as
 * soon as the previous append holds the capsule at the host, that is, as soon as that one's append output
 * arrives, in the thread it arrives in and before it is verified (sending then signs and fetches nothing),
 * so it reaches the host while the previous one commits and runs right after it. Every output and receipt
 * of both is verified as always; the early send only orders the programs. Its outcome is settled in
 * submission order (settling it settles every earlier one first), from the thread that uses the writer:
 * committed, or failed with the reason the host or the renter gave, or, when the append it builds on was
 * not committed, {@link AppendDependencyException} naming that one. One that is never sent gives its
 * prepared payment back.
 */
public final class PendingAppend {
  private final CapsuleWriter writer;
  private final long sequence;
  private final List<RecordWithBody> records;
  private final @Nullable PendingAppend predecessorOrNull;
  final HostClient client;
  final PreparedProgram program;
  final @Nullable Amount budgetOrNull;
  /** The index of the program's append instruction, whose output says the host holds the capsule. */
  private final int appendIndex;
  /**
   * The program's run once sent; null when it was not sent: submitting failed ({@link #submitFailureOrNull})
   * or the append before it ended without reaching its append, so it was held back (its parent would be
   * missing).
   */
  final CompletableFuture<@Nullable ProgramRun> started = new CompletableFuture<>();

  // Written from gRPC and pool threads; guarded by this.
  private @Nullable RenterException submitFailureOrNull;
  private @Nullable PendingAppend successorOrNull;
  private boolean holdsCapsule;
  private boolean ended;
  /** The run prepared at submission, until it is sent or dropped. */
  private @Nullable ProgramRun preparedOrNull;

  // The caller's thread only.
  private boolean settled;
  private boolean committed;
  private @Nullable ProgramResult resultOrNull;
  private @Nullable RenterException failureOrNull;

  PendingAppend(CapsuleWriter writer, long sequence, List<RecordWithBody> records,
      @Nullable PendingAppend predecessorOrNull, HostClient client, PreparedProgram program,
      @Nullable Amount budgetOrNull) {
    this.writer = writer;
    this.sequence = sequence;
    this.records = List.copyOf(records);
    this.predecessorOrNull = predecessorOrNull;
    this.client = client;
    this.program = program;
    this.budgetOrNull = budgetOrNull;
    List<Instruction> instructions = program.program().instructions();
    int last = instructions.size() - 1;
    while (last >= 0 && !(instructions.get(last) instanceof Instruction.AppendRecord)) {
      last--;
    }
    if (last < 0) {
      throw new IllegalArgumentException("a pipelined append's program appends");
    }
    this.appendIndex = last;
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

  /**
   * Prepares this append's run in the caller's thread (the price table, the estimate, the payment signed),
   * so that sending it once the append before holds the capsule costs no signing or fetching. A failure
   * here is left for {@link #send}, which prepares again.
   */
  void prepare() {
    ProgramRun run;
    try {
      run = client.prepare(program, budgetOrNull, this::arrived);
    } catch (RenterException | RuntimeException e) {
      return;
    }
    synchronized (this) {
      preparedOrNull = run;
    }
  }

  /**
   * Sends this append's program now (its successor is sent once this one holds the capsule). From a gRPC
   * thread ({@code mayBlock} false) a run that must be prepared anew (none was, or its price table or
   * payment is getting old) is prepared and sent from the common pool: that may fetch a price table.
   */
  void send(boolean mayBlock) {
    ProgramRun run;
    synchronized (this) {
      run = preparedOrNull;
      preparedOrNull = null;
    }
    if (run != null && !client.stillSendable(run)) {
      run.abandoned();
      run = null;
    }
    if (run == null && !mayBlock) {
      var unused = CompletableFuture.runAsync(() -> send(true)); // send() completes started whatever happens
      return;
    }
    try {
      if (run == null) {
        run = client.prepare(program, budgetOrNull, this::arrived);
      }
      client.send(run);
    } catch (RenterException | RuntimeException e) {
      // settled like a refusal before running: nothing was sent, so it runs again when settled
      synchronized (this) {
        submitFailureOrNull = e instanceof RenterException r ? r
            : new RenterException("submitting " + this + " failed: " + e, e);
      }
      started.complete(null);
      ended();
      return;
    }
    started.complete(run);
    var unused = run.completion().whenComplete((result, error) -> ended());
  }

  /** Sends {@code next} (the append built on this one) once this one holds the capsule, or holds it back. */
  void follow(PendingAppend next) {
    boolean sendNow;
    boolean holdBack;
    synchronized (this) {
      sendNow = holdsCapsule;
      holdBack = !holdsCapsule && ended;
      if (!sendNow && !holdBack) {
        successorOrNull = next;
      }
    }
    if (sendNow) {
      next.send(true);
    } else if (holdBack) {
      next.holdBack();
    }
  }

  /** An output's response arrived (in the gRPC thread, before it is verified). */
  private void arrived(int index) {
    if (index == appendIndex) {
      reachedAppend();
    }
  }

  /**
   * This program's append output arrived: the host ran the append, so it holds the capsule's write permit
   * for it until it commits or aborts, and the next append, sent now, runs after it. The output is
   * verified after this, as every output is; whether it verifies says nothing about the order at the
   * host. Sent from this thread when its run is prepared (sending does not block), else from the common
   * pool.
   */
  private void reachedAppend() {
    PendingAppend next;
    synchronized (this) {
      if (holdsCapsule) {
        return;
      }
      holdsCapsule = true;
      next = successorOrNull;
      successorOrNull = null;
    }
    if (next != null) {
      next.send(false);
    }
  }

  /** This program ended (or was never sent); a successor still waiting is held back. */
  private void ended() {
    PendingAppend next;
    synchronized (this) {
      ended = true;
      next = holdsCapsule ? null : successorOrNull;
      successorOrNull = null;
    }
    if (next != null) {
      next.holdBack();
    }
  }

  /** Not sent: the append before it ended without reaching its append. Its prepared payment goes back. */
  private void holdBack() {
    ProgramRun run;
    synchronized (this) {
      run = preparedOrNull;
      preparedOrNull = null;
    }
    if (run != null) {
      run.abandoned();
    }
    started.complete(null);
    ended();
  }

  synchronized @Nullable RenterException submitFailureOrNull() {
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
