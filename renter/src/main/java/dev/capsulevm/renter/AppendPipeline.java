package dev.capsulevm.renter;

import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Sends one writer's pipelined appends ({@link CapsuleWriter#submitAppend}) to the host in flights: one
 * program carries every append submitted while the flight before it was on its way, so a writer that
 * submits faster than the host answers pays the program's fixed costs (the call, the payment, the commit,
 * the receipt) once per flight instead of once per append. Each append keeps its own records and its own
 * writer signature; the host validates and stores them as it would one by one.
 *
 * <p>A flight leaves as soon as the flight before it holds the capsule at the host (its append output
 * arrived, before that output is verified), so it reaches the host while that one commits and runs right
 * after it. A flight prepared then is priced and paid in the common pool, not in the gRPC thread that
 * noticed the arrival (preparing may fetch a price table or open a payment session). The first flight of
 * an idle pipeline is prepared and sent in the submitting thread. When a flight ends without reaching its
 * append (refused, or never sent), the appends still waiting would name a parent the host does not hold:
 * they are held back, and the writer settles them (see {@link CapsuleWriter}).
 *
 * <p>Thread-safe: submitted from the writer's thread, advanced from gRPC and pool threads.
 */
final class AppendPipeline {
  /** The most appends one flight carries. */
  static final int MAX_APPENDS_PER_FLIGHT = 64;
  /** The most sub-record bytes one flight carries, unless a single append is larger. */
  static final long MAX_BYTES_PER_FLIGHT = 1L << 20;

  private final CapsuleWriter writer;

  // Guarded by this.
  private final ArrayDeque<PendingAppend> waiting = new ArrayDeque<>();
  /** The last flight sent (or that failed to be sent); null for an idle pipeline. */
  private @Nullable Flight tip;
  /** A flight is being prepared: the appends waiting now go with it or with the next. */
  private boolean launching;

  AppendPipeline(CapsuleWriter writer) {
    this.writer = writer;
  }

  /** Takes {@code append} (built on the last append submitted) and sends it now or with a later flight. */
  void submit(PendingAppend append) {
    boolean launch = false;
    List<PendingAppend> held = List.of();
    synchronized (this) {
      waiting.addLast(append);
      if (tip != null && tip.ended && !tip.holdsCapsule) {
        held = drainWaiting();
      } else if (!launching && (tip == null || tip.holdsCapsule)) {
        launching = true;
        launch = true;
      }
    }
    held.forEach(PendingAppend::holdBack);
    if (launch) {
      launch();
    }
  }

  /**
   * Forgets the last flight once every append is settled: the next append builds on the writer's heads.
   */
  synchronized void reset() {
    if (!waiting.isEmpty()) {
      throw new IllegalStateException("appends are still waiting to be sent");
    }
    tip = null;
  }

  /** Prepares and sends a flight of the appends waiting (there is at least one). */
  private void launch() {
    List<PendingAppend> members;
    synchronized (this) {
      members = takeFlight();
    }
    PendingAppend first = members.get(0);
    List<RecordWithBody> records = new ArrayList<>();
    members.forEach(m -> records.addAll(m.records()));
    Flight flight = new Flight(members, records);
    ProgramRun run = null;
    RenterException failure = null;
    try {
      PreparedProgram program = writer.appendProgram(first.client, first.expectedHeads(), records, members.size());
      run = first.client.prepare(program, members.size() == 1 ? first.budgetOrNull : null, flight::arrived);
      flight.run = run;
      synchronized (this) {
        tip = flight; // before it is sent: its arrival may come at once
        launching = false;
      }
      first.client.send(run);
    } catch (RenterException | RuntimeException e) {
      failure = e instanceof RenterException r ? r : new RenterException("submitting " + first + " failed: " + e, e);
    }
    if (failure != null) {
      List<PendingAppend> held;
      synchronized (this) {
        tip = flight;
        launching = false;
        flight.ended = true; // never sent: what waits behind it would miss its parent
        held = drainWaiting();
      }
      RenterException notSent = failure;
      members.forEach(m -> m.notSent(notSent));
      held.forEach(PendingAppend::holdBack);
      return;
    }
    members.forEach(m -> m.sentIn(flight));
    var unused = Objects.requireNonNull(run).completion().whenComplete((result, error) -> ended(flight));
  }

  /**
   * The appends of the next flight, oldest first: as many as wait, within {@link #MAX_APPENDS_PER_FLIGHT}
   * and {@link #MAX_BYTES_PER_FLIGHT}; an append with a budget of its own goes alone (a budget is one
   * program's).
   */
  private List<PendingAppend> takeFlight() {
    List<PendingAppend> members = new ArrayList<>();
    long bytes = 0;
    while (!waiting.isEmpty() && members.size() < MAX_APPENDS_PER_FLIGHT) {
      PendingAppend next = waiting.peekFirst();
      boolean alone = next.budgetOrNull != null;
      if (!members.isEmpty() && (alone || bytes + next.bytes() > MAX_BYTES_PER_FLIGHT)) {
        break;
      }
      members.add(waiting.removeFirst());
      bytes += next.bytes();
      if (alone) {
        break;
      }
    }
    return members;
  }

  private List<PendingAppend> drainWaiting() {
    List<PendingAppend> drained = List.copyOf(waiting);
    waiting.clear();
    return drained;
  }

  /**
   * {@code flight}'s append output arrived: the host ran its append and holds the capsule's write permit
   * for it until it commits or aborts, so the next flight, sent now, runs after it. Called in the gRPC
   * thread before the output is verified; whether it verifies says nothing about the order at the host.
   */
  private void reachedAppend(Flight flight) {
    boolean launch;
    synchronized (this) {
      if (flight.holdsCapsule) {
        return;
      }
      flight.holdsCapsule = true;
      launch = flight == tip && !waiting.isEmpty() && !launching;
      if (launch) {
        launching = true;
      }
    }
    if (launch) {
      var unused = CompletableFuture.runAsync(this::launch); // preparing may block: not in the gRPC thread
    }
  }

  /** {@code flight}'s program ended; appends waiting behind one that never held the capsule are held back. */
  private void ended(Flight flight) {
    List<PendingAppend> held = List.of();
    synchronized (this) {
      flight.ended = true;
      if (flight == tip && !flight.holdsCapsule) {
        held = drainWaiting();
      }
    }
    held.forEach(PendingAppend::holdBack);
  }

  /** One program carrying consecutive pipelined appends, in submission order, as one append instruction. */
  final class Flight {
    private final List<PendingAppend> members;
    private final List<RecordWithBody> records;
    private @Nullable ProgramRun run;
    // Guarded by the pipeline.
    private boolean holdsCapsule;
    private boolean ended;
    // The writer's thread only: the outcome, once its first member settled.
    private @Nullable ProgramResult resultOrNull;
    private @Nullable RenterException failureOrNull;
    private boolean awaited;

    private Flight(List<PendingAppend> members, List<RecordWithBody> records) {
      this.members = List.copyOf(members);
      this.records = List.copyOf(records);
    }

    /** The appends it carries, oldest first. */
    List<PendingAppend> members() {
      return members;
    }

    /** Every record of its appends, in order. */
    List<RecordWithBody> records() {
      return records;
    }

    /** Its run (set before any member learns of the flight). */
    ProgramRun run() {
      return Objects.requireNonNull(run, "a flight's members learn of it once it is prepared");
    }

    /** Waits for its end, once: afterwards {@link #resultOrNull} and {@link #failureOrNull} hold it. */
    void await() {
      if (awaited) {
        return;
      }
      awaited = true;
      try {
        resultOrNull = run().result();
      } catch (RenterException e) {
        failureOrNull = e;
      }
    }

    @Nullable ProgramResult resultOrNull() {
      return resultOrNull;
    }

    @Nullable RenterException failureOrNull() {
      return failureOrNull;
    }

    private void arrived(int index) {
      if (index == 0) { // a flight's program is its one AppendRecord
        reachedAppend(this);
      }
    }

    @Override
    public String toString() {
      return "flight of " + members.size() + " append(s) from " + members.get(0);
    }
  }
}
