package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.BudgetExceededException;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.SessionKey;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.Program;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.ProgramEnd;
import dev.capsulevm.vm.exec.PendingCommit;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * One program's call: the renter's messages in order, the call's state, and its end. The call is an Execute
 * call of its own ({@link CallResponses}) or one program of a program stream ({@link ProgramStream}), which
 * delivers the program's messages, cancellation and half-close to it as its own call would: this class
 * does not know which, and a program runs, costs and ends the same either way. The header goes to
 * {@link Admission}, the program data to {@link Upload}, the admitted program to a {@link ProgramDriver};
 * every way the call ends is an {@link EndReason}, which gives its status.
 *
 * <p>Threads. gRPC delivers the renter's messages one at a time on its executor ({@link #onNext}); the
 * program runs on a worker of the host's program pool, which also sends the outputs; the renter's
 * cancellation arrives on gRPC's executor at any time, and shutdown on the closing thread. State changes
 * happen under this object's monitor, and nobody waits while holding it: the worker waits for the stream
 * in the driver and for data in the upload, each on its own monitor, which this call may take while
 * holding its own, never the reverse; an abort also fails the program's meter under it, whose monitor is
 * never held while taking this one. Sends are serialized by {@link Responses}.
 *
 * <p>Metering. Every request message carrying the header or data is charged on arrival (gRPC's thread),
 * every InstructionResult before it is sent and every instruction before it runs (the worker). The
 * Meter's charge methods are synchronized (pricing's Meter), so the two threads' charges never interleave
 * inside one charge and both are ordered with {@code close()}. The program never ends before all its
 * declared data has arrived (the last output waits for it), so every upload is charged before the meter
 * closes and the receipt counts exactly the messages the renter sent. CommitProposal, ProgramEnd and
 * CommitDecision are not metered.
 *
 * <p>Flow control: inbound in {@link Upload} (one message requested at a time; on a program stream the
 * stream's, shared by its programs), outbound in {@link ProgramDriver} (an output only when the stream is
 * ready).
 */
final class ExecuteCall implements StreamObserver<ExecuteRequest> {
  private static final Logger log = LoggerFactory.getLogger(ExecuteCall.class);

  private enum State { AWAIT_HEADER, RUNNING, AWAIT_DECISION, DECIDING, ENDED }

  /** Why the call was stopped from outside its program; the first abort wins. */
  private record Abort(EndReason reason, String message) {}

  private final HostContext ctx;
  private final Responses responses;
  private State state = State.AWAIT_HEADER;
  private long startNanos;
  /** The account whose program slot the call holds (admitted), which its end gives back; null before. */
  private @Nullable PublicKey slotHolder;
  // set together when the header is admitted (state RUNNING), never unset
  private @Nullable Program program;
  private @Nullable Meter meter;
  /** The program's budget held; its settlement must be written before the receipt is sent. */
  private @Nullable Reservation payment;
  /** The payment session's key when the receipt is sealed with it, else null (signed). */
  private @Nullable SessionKey sealKey;
  private @Nullable Upload upload;
  private @Nullable ProgramDriver driver;
  /** Whether the renter stated the program's heads: it then sends no CommitDecision. */
  private boolean headsStated;
  /** Set with the state AWAIT_DECISION. */
  private @Nullable PendingCommit pending;
  private volatile @Nullable Abort abort;
  private boolean halfClosed;

  /** A call whose messages go out through {@code responses}, which takes its cancellation and readiness handlers. */
  ExecuteCall(HostContext ctx, Responses responses) {
    this.ctx = ctx;
    this.responses = responses;
    responses.attach(this::onCancel, this::onReady);
    ctx.calls.add(this);
    responses.requestNext();
  }

  // ---------------------------------------------------------------- inbound (gRPC's thread)

  @Override
  public void onNext(ExecuteRequest request) {
    try {
      switch (request.getKindCase()) {
        case HEADER -> onHeader(request);
        case DATA -> onData(request);
        case DECISION -> onDecision(request.getDecision().getConfirm());
        default -> abort(EndReason.PROTOCOL,
            "an ExecuteRequest must carry a header, data or a decision; this one carries none");
      }
    } catch (RuntimeException e) {
      log.error("unexpected failure handling a request", e);
      abort(EndReason.INTERNAL, "the host failed handling a request: " + e);
    }
  }

  private void onHeader(ExecuteRequest request) {
    State now;
    synchronized (this) {
      now = state;
    }
    if (now != State.AWAIT_HEADER) {
      abort(EndReason.PROTOCOL, "a second ProgramHeader: the header is sent once, first");
      return;
    }
    startNanos = System.nanoTime();
    int size = request.getSerializedSize();
    ctx.metrics.bytesReceived.inc(size);
    Admission.Decision decision = ctx.admission.decide(request.getHeader());
    if (decision instanceof Admission.Refused refused) {
      reject(refused.reason(), refused.message());
      return;
    }
    Admission.Admitted admission = (Admission.Admitted) decision;
    Upload data = new Upload(admission.program().dataLength(), ctx.config.maxBufferedBytes(), ctx.scheduler,
        responses::requestNext, this::abort, Upload.Deadlines.of(ctx.config), System::nanoTime);
    ProgramDriver run = new ProgramDriver(ctx, this, responses, admission, data);
    boolean started;
    synchronized (this) {
      started = state == State.AWAIT_HEADER;
      if (started) {
        slotHolder = admission.account();
        program = admission.program();
        meter = admission.meter();
        payment = admission.payment();
        sealKey = admission.sealKeyOrNull();
        upload = data;
        driver = run;
        headsStated = admission.headsStated();
        state = State.RUNNING;
      }
    }
    if (!started) {
      // The call ended while admission ran (shutdown, cancellation): give back the slot and the budget.
      ctx.release(admission.account());
      Abort why = abort;
      run.closeFailed(why != null ? why.reason() : EndReason.UNAVAILABLE, -1,
          why != null ? why.message() : "the call ended before its program started");
      return;
    }
    try {
      admission.meter().chargeUpload(size);
    } catch (BudgetExceededException e) {
      end(EndReason.BUDGET, run.closeFailed(EndReason.BUDGET, -1, "budget: " + e.getMessage()));
      return;
    }
    try {
      ctx.programPool.execute(run::run);
    } catch (RejectedExecutionException e) {
      end(EndReason.UNAVAILABLE, run.closeFailed(EndReason.UNAVAILABLE, -1, "the host is shutting down"));
      return;
    }
    // From here on a renter that sends no data gives its slot back within firstDataTimeout.
    data.watch();
    responses.requestNext();
  }

  private void onData(ExecuteRequest request) {
    int size = request.getSerializedSize();
    ctx.metrics.bytesReceived.inc(size);
    State now;
    Meter charged;
    Upload data;
    synchronized (this) {
      now = abort == null ? state : State.ENDED;
      charged = meter;
      data = upload;
    }
    if (now == State.AWAIT_HEADER) {
      abort(EndReason.PROTOCOL, "program data before the ProgramHeader: the header comes first");
      return;
    }
    if (now == State.ENDED) {
      return;
    }
    try {
      Objects.requireNonNull(charged, "a call past its header has its meter").chargeUpload(size);
    } catch (BudgetExceededException e) {
      abort(EndReason.BUDGET, "budget: " + e.getMessage() + " (this data message is not counted)");
      return;
    } catch (IllegalStateException e) {
      abort(EndReason.PROTOCOL, "program data after the end: the program has ended");
      return;
    }
    Objects.requireNonNull(data, "a call past its header has its upload").offer(request.getData().toByteArray());
  }

  private void onDecision(boolean confirm) {
    PendingCommit commit = null;
    ProgramDriver run = null;
    Abort problem = null;
    synchronized (this) {
      switch (state) {
        case AWAIT_HEADER -> problem = new Abort(EndReason.PROTOCOL,
            "a CommitDecision before the ProgramHeader: the header comes first");
        case RUNNING -> problem = new Abort(EndReason.DECISION_TOO_EARLY, "a CommitDecision before a CommitProposal"
            + (admittedProgram().isReadOnly() ? " (a read-only program gets none)"
                : headsStated ? " (a program that states its expected heads gets none)" : ""));
        case AWAIT_DECISION -> {
          state = State.DECIDING;
          commit = pending;
          run = driver;
        }
        default -> {
          return;
        }
      }
    }
    if (problem != null) {
      abort(problem.reason(), problem.message());
      return;
    }
    responses.requestNext();
    Objects.requireNonNull(run, "a call awaiting a decision has its driver")
        .decide(Objects.requireNonNull(commit, "a call awaiting a decision has its pending commit"), confirm);
  }

  @Override
  public void onError(Throwable t) {
    onCancel();
  }

  @Override
  public void onCompleted() {
    Abort problem = null;
    synchronized (this) {
      halfClosed = true;
      switch (state) {
        case AWAIT_HEADER -> problem = new Abort(EndReason.PROTOCOL, "the stream closed before a ProgramHeader");
        case RUNNING -> {
          Upload data = Objects.requireNonNull(upload, "a running call has its upload");
          if (!data.complete()) {
            problem = new Abort(EndReason.DATA, "the renter closed its side after " + data.received() + " of "
                + admittedProgram().dataLength() + " bytes of program data");
          }
        }
        case AWAIT_DECISION -> problem = new Abort(EndReason.REFUSED,
            "the renter closed its side without a CommitDecision; nothing was written");
        default -> { }
      }
    }
    if (problem != null) {
      abort(problem.reason(), problem.message());
    }
  }

  private void onCancel() {
    responses.markCancelled();
    abort(EndReason.CANCELLED, "the renter cancelled the call");
  }

  private void onReady() {
    ProgramDriver running;
    synchronized (this) {
      running = driver;
    }
    if (running != null) {
      running.wake();
    }
  }

  /** Shutdown: the program stops (a pending commit is refused) and the renter gets UNAVAILABLE. */
  void shutdown() {
    abort(EndReason.UNAVAILABLE, "the host is shutting down; nothing was written");
  }

  // ---------------------------------------------------------------- the call's state, for its driver

  boolean aborted() {
    return abort != null;
  }

  /**
   * Stops the call for a reason outside its program. Before the header it ends with the status alone; a
   * running program fails at its next step (its data is failed, so a wait for data ends at once); a
   * pending commit is refused here. Either way the program's meter is failed first, with no instruction
   * and this reason and message, so the receipt states them unless the program had failed already. A
   * commit being decided is left to its decision. The first abort wins; once the call ended, nothing
   * happens.
   */
  void abort(EndReason reason, String message) {
    boolean refuseCall = false;
    boolean running = false;
    PendingCommit refuse = null;
    Upload data;
    ProgramDriver run;
    synchronized (this) {
      if (state == State.ENDED || abort != null) {
        return;
      }
      switch (state) {
        case AWAIT_HEADER -> refuseCall = true;
        case RUNNING -> running = true;
        case AWAIT_DECISION -> {
          state = State.DECIDING;
          refuse = pending;
        }
        default -> { }
      }
      run = driver;
      if ((running || refuse != null) && run != null) {
        // Before the abort is visible: the worker may settle the meter as soon as it sees it.
        run.fail(reason, message);
      }
      abort = new Abort(reason, message);
      data = upload;
    }
    if (data != null) {
      data.stop(running ? message : null);
    }
    if (run != null) {
      run.wake();
    }
    if (refuseCall) {
      reject(reason, message);
    } else if (refuse != null) {
      end(reason, refuse.refuse());
    }
  }

  /**
   * The program proposes its commit: true when the call now waits for the renter's decision; false when
   * the call refused the commit and ended instead (it was aborted, or the renter had closed its side).
   */
  boolean awaitDecision(PendingCommit commit) {
    Abort why;
    synchronized (this) {
      if (abort != null) {
        why = abort;
      } else if (halfClosed) {
        why = new Abort(EndReason.REFUSED,
            "the renter closed its side before the CommitProposal; nothing was written");
      } else {
        pending = commit;
        state = State.AWAIT_DECISION;
        return true;
      }
      state = State.DECIDING;
    }
    end(why.reason(), Objects.requireNonNull(driver, "a running call has its driver")
        .refuse(commit, why.reason(), why.message()));
    return false;
  }

  /**
   * The program completed and its renter stated the heads it must leave: true when the driver now decides
   * the commit against them (a later abort leaves it to that decision, as for a confirmed commit); false
   * when the call was aborted first and the commit was refused here. A renter that closed its side has
   * sent everything such a program needs, so that is no refusal.
   */
  boolean takeStatedCommit(PendingCommit commit) {
    Abort why;
    synchronized (this) {
      why = abort;
      state = State.DECIDING;
    }
    if (why == null) {
      return true;
    }
    end(why.reason(), Objects.requireNonNull(driver, "a running call has its driver")
        .refuse(commit, why.reason(), why.message()));
    return false;
  }

  /** Takes the pending commit's decision for the host (its expiry); false when the renter decided first. */
  boolean takeDecision() {
    synchronized (this) {
      if (state != State.AWAIT_DECISION) {
        return false;
      }
      state = State.DECIDING;
      return true;
    }
  }

  // ---------------------------------------------------------------- ending

  /** Ends a call that holds no budget: the status alone. */
  private void reject(EndReason reason, String message) {
    synchronized (this) {
      if (state == State.ENDED) {
        return;
      }
      state = State.ENDED;
    }
    ctx.calls.remove(this);
    ctx.metrics.programs.labelValues("rejected").inc();
    ctx.metrics.errors.labelValues(reason.code().name()).inc();
    if (reason == EndReason.CANCELLED) {
      // The renter went away before its header: nothing refused, nothing for the operator.
      log.debug("Execute cancelled before its header");
    } else {
      ctx.metrics.refusals.labelValues(reason.name()).inc();
      ctx.events.log(Level.INFO, reason.name(), "Execute refused, " + reason.code() + ": " + message);
    }
    responses.refuse(reason.status(message));
  }

  /** Ends a read-only program that completed: ProgramEnd with its receipt, then OK. */
  void endFinished(SignedReceipt receipt) {
    settle(null, receipt, "finished");
  }

  /** Ends a read-write program that committed: ProgramEnd with its receipt and the heads it states, then OK. */
  void endCommitted(SignedReceipt receipt) {
    settle(null, receipt, "committed");
  }

  /** Ends a program the call's abort stopped, with the abort's reason (which its meter was failed with). */
  void endAborted(SignedReceipt receipt) {
    Abort why = Objects.requireNonNull(abort, "only an aborted call's program ends aborted");
    end(why.reason(), receipt);
  }

  /** Ends a program the call's abort stopped before anything settled its meter. */
  void endAborted() {
    Abort why = Objects.requireNonNull(abort, "only an aborted call's program ends aborted");
    end(why.reason(), Objects.requireNonNull(driver, "a running call has its driver")
        .closeFailed(why.reason(), -1, why.message()));
  }

  /** Ends a program that failed after its budget was taken (see {@link #settle}). */
  void end(EndReason reason, SignedReceipt receipt) {
    settle(reason, receipt, "failed");
  }

  void end(EndReason reason, SignedReceipt receipt, String outcome) {
    settle(reason, receipt, outcome);
  }

  /**
   * Ends a program after its budget was taken, as its receipt says: ProgramEnd with the receipt and, for
   * a failed program, the {@code Failure} its receipt states (instruction, reason, message; the receipt
   * is the one source of them, so the renter can compare the two), then the status. The status is
   * {@code reason}'s when it has the receipt's failure reason, else the status of the receipt's own reason
   * (the program failed for another reason first). A completed program ends with its committed heads and
   * OK whatever {@code reason} says: its meter settled first.
   */
  private void settle(@Nullable EndReason reason, SignedReceipt signed, String outcome) {
    if (!finishState()) {
      return;
    }
    Reservation paid;
    SessionKey sealer;
    synchronized (this) {
      paid = payment;
      sealer = sealKey;
    }
    if (paid != null && !paid.isCommitted()) {
      // Every receipt sent is in the ledger: one whose charge could not be written is not sent. Nothing was
      // charged (the hold was released), so the renter pays nothing for this program.
      Exception why = paid.failureOrNull();
      log.error("the charge of a program of account {} could not be written; nothing was charged, no receipt sent",
          paid.account(), why);
      String message = "the host could not write the program's charge (" + (why == null ? "unknown" : why.getMessage())
          + "); nothing was charged and no receipt exists; retry later";
      ctx.metrics.programs.labelValues("unsettled").inc();
      ctx.metrics.errors.labelValues(EndReason.UNSETTLED.code().name()).inc();
      responses.refuse(EndReason.UNSETTLED.status(message));
      return;
    }
    Receipt receipt = signed.receipt();
    // A sealed receipt is never signed: its signature is made only when encoded.
    ProgramEnd.Builder end = sealer != null
        ? ProgramEnd.newBuilder().setSealedReceipt(ByteString.copyFrom(receipt.seal(sealer).encode()))
        : ProgramEnd.newBuilder().setSignedReceipt(ByteString.copyFrom(signed.encode()));
    String label = responses.wasCancelled() ? "cancelled" : outcome;
    if (!(receipt.end() instanceof Receipt.Failed failed)) {
      for (Hash head : receipt.committedHeads()) {
        end.addCommittedHeads(ByteString.copyFrom(head.toByteArray()));
      }
      sendEnd(end.build(), null, label);
      return;
    }
    EndReason stated = reason != null && reason.wire().getNumber() == failed.reason() ? reason
        : EndReason.ofWire(failed.reason());
    if (stated.code() == Status.Code.DEADLINE_EXCEEDED) {
      // A renter that stalls, never decides or never reads: the operator sees it once per reason.
      PublicKey holder;
      synchronized (this) {
        holder = slotHolder;
      }
      ctx.metrics.timeouts.labelValues(stated.name()).inc();
      ctx.events.log(Level.INFO, stated.name(), "program of account " + holder + " timed out, "
          + stated.code() + ": " + failed.message());
    }
    end.setFailure(Failure.newBuilder()
        .setReasonValue(failed.reason())
        .setInstruction(failed.instruction())
        .setMessage(failed.message())
        .setMaxOutputBytes(Objects.requireNonNull(driver, "a program's end comes after its start").unsentBound(receipt)));
    sendEnd(end.build(), stated.status(failed.message()), label);
  }

  /** The admitted program, under this object's monitor in a state past the header. */
  private Program admittedProgram() {
    return Objects.requireNonNull(program, "a call past its header has its program");
  }

  /** Moves to ENDED once; false when another path ended the call first. */
  private boolean finishState() {
    Upload data;
    synchronized (this) {
      if (state == State.ENDED) {
        return false;
      }
      state = State.ENDED;
      data = upload;
    }
    if (data != null) {
      data.stop(null);
    }
    ctx.calls.remove(this);
    PublicKey holder;
    synchronized (this) {
      holder = slotHolder;
    }
    if (holder != null) {
      ctx.release(holder);
    }
    ctx.programsRun.incrementAndGet();
    return true;
  }

  private void sendEnd(ProgramEnd end, @Nullable Status errorOrNull, String outcome) {
    ctx.metrics.programs.labelValues(outcome).inc();
    ctx.metrics.latency.observe((System.nanoTime() - startNanos) / 1e9);
    if (errorOrNull != null) {
      ctx.metrics.errors.labelValues(errorOrNull.getCode().name()).inc();
    }
    responses.end(end, errorOrNull);
  }
}
