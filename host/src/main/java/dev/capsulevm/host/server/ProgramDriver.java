package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.BudgetExceededException;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramException;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proto.v1.CommitProposal;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.InstructionResult;
import dev.capsulevm.vm.exec.InstructionOutput;
import dev.capsulevm.vm.exec.Outcome;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one admitted program and sends what it produces: the executor on a worker of the host's program
 * pool, each output as the stream can take it, and for a read-write program the commit handshake (the
 * proposal, the renter's decision, the expiry). How the program ended goes back to its {@link ExecuteCall},
 * which owns the call's state and its end.
 *
 * <p>Flow control, outbound: the worker sends an output only when the stream is ready, waiting at most
 * {@code sendTimeout} for a slow renter, after which the program fails. The last output also waits for
 * the rest of the declared data, at most {@code dataTimeout}, so the receipt counts every data message.
 *
 * <p>Metering: every InstructionResult is charged at its serialized size, with its output's transcript
 * leaf, once the stream is ready for it and right before it is sent ({@link Meter#chargeOutput}), so the
 * receipt's transcript holds exactly the outputs sent; the executor charges every instruction before it
 * runs, both on the worker; uploads are charged by the call.
 *
 * <p>Failures: whoever decides why the program fails states it in the meter ({@link Meter#fail}) before
 * anything can settle it, and the first failure is the one the receipt states; the call builds the
 * renter's {@code Failure} from the receipt ({@link ExecuteCall#end}), so the two always agree.
 */
final class ProgramDriver {
  private static final Logger log = LoggerFactory.getLogger(ProgramDriver.class);

  /** The call was aborted (protocol error, cancellation, shutdown) while the program ran. */
  private static final class CallAborted extends RuntimeException {
    CallAborted() {
      super("aborted", null, false, false);
    }
  }

  /** The response carrying an output could not be paid for. */
  private static final class OutputUnpaid extends RuntimeException {
    final int index;

    OutputUnpaid(int index, String message) {
      super(message, null, false, false);
      this.index = index;
    }
  }

  private final HostContext ctx;
  private final ExecuteCall call;
  private final Responses responses;
  private final Program program;
  private final PriceTable table;
  /** The program's budget held: a committed program's charge is settled in the commit's transaction. */
  private final Reservation payment;
  private final Meter meter;
  private final Upload upload;
  /** The heads the renter stated the program leaves, or empty: then the renter decides on a proposal. */
  private final List<Hash> statedHeads;
  /** Where the worker waits for the stream to become ready; held only around that wait. */
  private final Object readiness = new Object();
  /** Outputs sent, and the meter's instruction and memory parts after the last one (worker). */
  private volatile int delivered;
  private volatile long instructionPartSent;
  private volatile long memoryPartSent;
  /** The bound of an output whose response could not be paid for, or -1. */
  private volatile long unpaidBound = -1;
  /** The call's end at the commit's deadline, which the renter's decision cancels; null before. */
  private volatile @Nullable ScheduledFuture<?> expiry;

  ProgramDriver(HostContext ctx, ExecuteCall call, Responses responses, Admission.Admitted admitted, Upload upload) {
    this.ctx = ctx;
    this.call = call;
    this.responses = responses;
    this.program = admitted.program();
    this.table = admitted.table();
    this.payment = admitted.payment();
    this.meter = admitted.meter();
    this.upload = upload;
    this.statedHeads = admitted.statedHeads();
    this.instructionPartSent = meter.charged().instruction().units();
    this.memoryPartSent = meter.charged().memory().units();
  }

  /** Runs the program to its end or its proposal (a worker of the program pool). */
  void run() {
    Outcome outcome;
    try {
      if (program.instructions().isEmpty()) {
        awaitDataComplete();
      }
      outcome = ctx.executor.run(program, upload.data(), meter, payment, this::deliver);
    } catch (ProgramStoppedException e) {
      EndReason reason = dataLate(e) ? EndReason.DATA_LATE : EndReason.of(e.reason());
      SignedReceipt stopped = e.receiptOrNull();
      SignedReceipt receipt = stopped != null ? stopped
          : closeFailed(reason, e.instructionIndex(), String.valueOf(e.getMessage()));
      if (call.aborted()) {
        call.endAborted(receipt);
      } else {
        call.end(reason, receipt);
      }
      return;
    } catch (OutputUnpaid e) {
      call.end(EndReason.BUDGET, closeFailed(EndReason.BUDGET, e.index, String.valueOf(e.getMessage())));
      return;
    } catch (CallAborted e) {
      call.endAborted();
      return;
    } catch (RuntimeException | Error e) {
      log.error("program failed unexpectedly", e);
      call.end(EndReason.INTERNAL, closeFailed(EndReason.INTERNAL, -1, internalFailure(e)));
      return;
    }
    if (outcome instanceof Outcome.Finished finished) {
      // Completed, even if the call was aborted since: its meter closed first, and its receipt says so.
      call.endFinished(finished.receipt());
      return;
    }
    PendingCommit commit = (PendingCommit) outcome;
    if (!statedHeads.isEmpty()) {
      commitAsStated(commit);
      return;
    }
    if (!call.awaitDecision(commit)) {
      return;
    }
    // The executor discards the commit at its deadline; this ends the call then too, even if the renter
    // never says anything again.
    long delay = Math.max(0, Duration.between(ctx.config.clock().instant(), commit.deadline()).toMillis()) + 20;
    try {
      expiry = ctx.scheduler.schedule(() -> expireIfUndecided(commit), delay, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // Shutting down: close() ends every call.
    }
    CommitProposal.Builder proposal = CommitProposal.newBuilder().setCost(commit.costSoFar().units());
    for (Hash head : commit.proposedHeads()) {
      proposal.addHeads(ByteString.copyFrom(head.toByteArray()));
    }
    try {
      send(ExecuteResponse.newBuilder().setProposal(proposal).build());
    } catch (CallAborted e) {
      // The abort refused the pending commit and ended the call.
    }
  }

  /**
   * The program's commit when the renter stated its heads up front (worker): committed at once when the
   * program leaves exactly those heads, refused otherwise. The renter verifies every output and the
   * receipt as after a confirmation; what it cannot do any more is refuse after seeing the outputs, which
   * is why only heads it computed itself are committed (docs/PROTOCOL.md, "Stated heads").
   */
  private void commitAsStated(PendingCommit commit) {
    if (!call.takeStatedCommit(commit)) {
      return;
    }
    if (!commit.proposedHeads().equals(statedHeads)) {
      call.end(EndReason.REFUSED, refuse(commit, EndReason.REFUSED, "the program leaves the heads "
          + commit.proposedHeads() + ", the renter stated " + statedHeads + "; nothing was written"), "refused");
      return;
    }
    confirm(commit);
  }

  /** The renter's decision on the proposal (gRPC's thread): commits and ends the call, or refuses. */
  void decide(PendingCommit commit, boolean confirm) {
    ScheduledFuture<?> scheduled = expiry;
    if (scheduled != null) {
      scheduled.cancel(false); // decided: nothing left to expire
    }
    if (!confirm) {
      // The commit's own failure: REFUSED, "the renter refused the commit; nothing was written".
      call.end(EndReason.REFUSED, commit.refuse(), "refused");
      return;
    }
    confirm(commit);
  }

  /** Commits the staged writes, settling the program with them, and ends the call. */
  private void confirm(PendingCommit commit) {
    try {
      call.endCommitted(commit.confirm());
    } catch (ProgramStoppedException e) {
      EndReason reason = EndReason.of(e.reason());
      SignedReceipt stopped = e.receiptOrNull();
      call.end(reason, stopped != null ? stopped
          : closeFailed(reason, e.instructionIndex(), String.valueOf(e.getMessage())));
    }
  }

  private void expireIfUndecided(PendingCommit commit) {
    if (call.takeDecision()) {
      call.end(EndReason.EXPIRED, refuse(commit, EndReason.EXPIRED, "no CommitDecision within "
          + ctx.config.commitTimeout() + "; nothing was written"));
    }
  }

  /**
   * Fails the program for {@code reason} (unless it failed already: the first failure stands) and closes
   * its meter; every later close returns the same receipt.
   */
  SignedReceipt closeFailed(EndReason reason, int instruction, String message) {
    meter.fail(instruction, reason.receiptReason(), message);
    return meter.close().sign(ctx.hostKey);
  }

  /** Refuses a pending commit for {@code reason}, which its receipt states unless the program failed already. */
  SignedReceipt refuse(PendingCommit commit, EndReason reason, String message) {
    meter.fail(ProgramStoppedException.NO_INSTRUCTION, reason.receiptReason(), message);
    return commit.refuse();
  }

  /** States in the meter why the call stops the program, before anything can settle it. */
  void fail(EndReason reason, String message) {
    meter.fail(ProgramStoppedException.NO_INSTRUCTION, reason.receiptReason(), message);
  }

  /**
   * Whether the executor stopped the program because an instruction's data did not arrive within
   * {@code dataTimeout} (a stall, DEADLINE_EXCEEDED like the upload's own watch) rather than because
   * the data was wrong; the receipt states DATA either way.
   */
  private boolean dataLate(ProgramStoppedException e) {
    return e.reason() == ProgramStoppedException.Reason.DATA
        && e.getCause() instanceof ProgramException cause && cause.reason() == ProgramException.Reason.DATA_UNAVAILABLE
        && !upload.complete();
  }

  private static String internalFailure(Throwable e) {
    return "the host failed running the program: " + e;
  }

  /** Wakes the worker waiting for the stream: it became ready, or the call was aborted. */
  void wake() {
    synchronized (readiness) {
      readiness.notifyAll();
    }
  }

  /**
   * The executor's consumer (worker): waits for the stream, charges the output with its transcript leaf,
   * sends it. The executor fails the meter of a program whose consumer throws, with its own reason unless
   * the meter failed before: so every way this stops the program states its reason in the meter first.
   */
  private void deliver(InstructionOutput output) {
    try {
      sendOutput(output);
    } catch (CallAborted | OutputUnpaid e) {
      throw e; // the abort, or the charge below, failed the meter already
    } catch (RuntimeException | Error e) {
      fail(EndReason.INTERNAL, internalFailure(e));
      throw e;
    }
  }

  private void sendOutput(InstructionOutput output) {
    checkNotAborted();
    InstructionResult result = InstructionResult.newBuilder()
        .setIndex(output.index())
        .setCostSoFar(output.costSoFar().units())
        .setOutput(ByteString.copyFrom(output.encodedOutput()))
        .setMaxOutputBytes(output.charged().maxOutputBytes())
        .build();
    ExecuteResponse response = ExecuteResponse.newBuilder().setResult(result).build();
    int size = response.getSerializedSize();
    // Charged only once the stream takes it: an output the renter never reads is neither charged nor in
    // the transcript (the call fails SLOW_RENTER instead).
    awaitReady();
    try {
      meter.chargeOutput(size, output.transcriptLeaf());
    } catch (BudgetExceededException e) {
      unpaidBound = output.charged().maxOutputBytes();
      String message = "budget: the output of instruction " + output.index() + " could not be paid for: "
          + e.getMessage();
      meter.fail(output.index(), EndReason.BUDGET.receiptReason(), message);
      throw new OutputUnpaid(output.index(), message);
    }
    ctx.metrics.instructions.labelValues(output.charged().kind().name()).inc();
    send(response);
    delivered = output.index() + 1;
    instructionPartSent = meter.charged().instruction().units();
    memoryPartSent = meter.charged().memory().units();
    ctx.metrics.bytesSent.inc(size);
    if (output.index() == program.instructions().size() - 1) {
      awaitDataComplete();
    }
  }

  private void checkNotAborted() {
    if (call.aborted()) {
      throw new CallAborted();
    }
  }

  /** Waits until the renter can take another message, at most sendTimeout. */
  private void awaitReady() {
    long deadline = System.nanoTime() + ctx.config.sendTimeout().toNanos();
    boolean late = false;
    boolean interrupted = false;
    synchronized (readiness) {
      while (!call.aborted() && !responses.isReady()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          late = true;
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(readiness, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          interrupted = true;
          break;
        }
      }
    }
    if (late) {
      call.abort(EndReason.SLOW_RENTER, "the renter did not read the outputs within " + ctx.config.sendTimeout());
    } else if (interrupted) {
      call.abort(EndReason.INTERRUPTED, "the host is shutting down");
    }
    checkNotAborted();
  }

  /** Waits until every declared byte of program data has arrived, at most dataTimeout. */
  private void awaitDataComplete() {
    try {
      if (!upload.awaitComplete(ctx.config.dataTimeout())) {
        call.abort(EndReason.DATA_LATE, "program data: " + upload.received() + " of " + program.dataLength()
            + " declared bytes arrived within " + ctx.config.dataTimeout());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      call.abort(EndReason.INTERRUPTED, "the host is shutting down");
    }
    checkNotAborted();
  }

  /** Sends one message; a cancelled call aborts the program. */
  private void send(ExecuteResponse response) {
    if (!responses.send(response)) {
      call.abort(EndReason.CANCELLED, "the call was cancelled");
      throw new CallAborted();
    }
  }

  /**
   * The output bound the last charged instruction was charged for when its output was never sent (it
   * failed while running, or its response could not be paid for); 0 otherwise. Derived from what the
   * meter's instruction part (or, with a zero per-byte price, its memory part) grew by since the last
   * output was sent, which only instruction charges change; when neither price depends on the bound,
   * any bound gives the same cost and 0 is reported.
   */
  long unsentBound(Receipt receipt) {
    int charged = receipt.instructionsCharged();
    if (charged == 0 || charged <= delivered) {
      return 0;
    }
    if (unpaidBound >= 0) {
      return unpaidBound;
    }
    Instruction instruction = program.instructions().get(charged - 1);
    InstructionKind kind = instruction.kind();
    long perByte = table.prices().instruction(kind).perByte().units();
    long handled;
    if (perByte > 0) {
      long part = receipt.cost().instruction().units() - instructionPartSent
          - table.prices().instruction(kind).base().units();
      handled = part / perByte;
    } else {
      long perUnit = table.prices().memoryPerByteTimeUnit().units() * kind.timeUnits();
      if (perUnit <= 0) {
        return 0;
      }
      handled = (receipt.cost().memory().units() - memoryPartSent) / perUnit;
    }
    return Math.max(0, handled - instruction.inputBytes());
  }
}
