package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.BudgetExceededException;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.pricing.SignedWithdrawal;
import dev.capsulevm.pricing.Withdrawal;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramDecoder;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.program.ProgramException;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.v1.CommitProposal;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.InstructionResult;
import dev.capsulevm.proto.v1.ProgramEnd;
import dev.capsulevm.proto.v1.ProgramHeader;
import dev.capsulevm.vm.ProgramData;
import dev.capsulevm.vm.exec.InstructionOutput;
import dev.capsulevm.vm.exec.Outcome;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Execute stream: the header, the program data, the outputs, the commit handshake and the end.
 *
 * <p>Threads. gRPC delivers the renter's messages one at a time on its executor ({@link #onNext}); the
 * program runs on a worker of the host's program pool ({@link #runProgram}), which also sends the
 * outputs; the renter's cancellation arrives on gRPC's executor at any time. State changes happen
 * under this object's monitor; sends are serialized by {@link #sendLock}; nothing waits while holding
 * the monitor except through {@link Object#wait}, which releases it.
 *
 * <p>Metering. Every request message carrying the header or data is charged on arrival (gRPC thread),
 * every InstructionResult before it is sent (program thread), every instruction before it runs
 * (program thread, by the executor). The Meter's charge methods are synchronized (pricing's Meter), so
 * the two threads' charges never interleave inside one charge and both are ordered with
 * {@code close()}. The program never ends before all its declared data has arrived (the last output
 * waits for it), so every upload is charged before the meter closes and the receipt counts exactly the
 * messages the renter sent. CommitProposal, ProgramEnd and CommitDecision are not metered.
 *
 * <p>Flow control. Inbound, the call requests one message at a time (automatic requests are off): a
 * data chunk that does not fit under the program's buffer limit is held (one chunk at most) and retried
 * as the executor releases data, and no further message is requested until it fits, so gRPC's window
 * pushes back on the renter. Outbound, the program thread sends an output only when the stream is
 * ready, waiting at most {@code sendTimeout} for a slow renter, after which the program fails.
 */
final class ExecuteCall implements StreamObserver<ExecuteRequest> {
  private static final Logger log = LoggerFactory.getLogger(ExecuteCall.class);
  private static final long RETRY_FEED_MILLIS = 2;

  private enum State { AWAIT_HEADER, RUNNING, AWAIT_DECISION, DECIDING, ENDED }

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
  private final ServerCallStreamObserver<ExecuteResponse> out;
  private final Object sendLock = new Object();
  private State state = State.AWAIT_HEADER;
  private long startNanos;
  private boolean admitted;
  private Program program;
  private ProgramData data;
  private Meter meter;
  /** The paying account: a committed program's refund is credited to it in the commit's transaction. */
  private PublicKey account;
  private PriceTable table;
  /** Outputs sent, and the meter's instruction and memory parts after the last one (program thread). */
  private volatile int delivered;
  private volatile long instructionPartSent;
  private volatile long memoryPartSent;
  /** The bound of an output whose response could not be paid for, or -1. */
  private volatile long unpaidBound = -1;
  private long received;
  private byte[] heldChunk;
  private PendingCommit pending;
  private Status abortStatus;
  private String abortReason;
  private volatile boolean cancelled;
  private boolean halfClosed;

  ExecuteCall(HostContext ctx, StreamObserver<ExecuteResponse> responses) {
    this.ctx = ctx;
    this.out = (ServerCallStreamObserver<ExecuteResponse>) responses;
    out.disableAutoRequest();
    out.setOnCancelHandler(this::onCancel);
    out.setOnReadyHandler(this::onReady);
    ctx.calls.add(this);
    out.request(1);
  }

  // ---------------------------------------------------------------- inbound (gRPC thread)

  @Override
  public void onNext(ExecuteRequest request) {
    try {
      switch (request.getKindCase()) {
        case HEADER -> onHeader(request);
        case DATA -> onData(request);
        case DECISION -> onDecision(request.getDecision().getConfirm());
        default -> protocolError(Status.INVALID_ARGUMENT,
            "an ExecuteRequest must carry a header, data or a decision; this one carries none");
      }
    } catch (RuntimeException e) {
      log.error("unexpected failure handling a request", e);
      protocolError(Status.INTERNAL, "the host failed handling a request: " + e);
    }
  }

  private void onHeader(ExecuteRequest request) {
    State now;
    synchronized (this) {
      now = state;
    }
    if (now != State.AWAIT_HEADER) {
      protocolError(Status.INVALID_ARGUMENT, "a second ProgramHeader: the header is sent once, first");
      return;
    }
    startNanos = System.nanoTime();
    int size = request.getSerializedSize();
    ctx.metrics.bytesReceived.inc(size);
    ProgramHeader header = request.getHeader();
    if (ctx.closing) {
      reject(Status.UNAVAILABLE, "the host is shutting down");
      return;
    }
    if (header.getPriceTableId().size() != Hash.LENGTH) {
      reject(Status.INVALID_ARGUMENT, "header: price_table_id is " + header.getPriceTableId().size()
          + " bytes, a price table id is " + Hash.LENGTH);
      return;
    }
    Hash tableId = Hash.copyOf(header.getPriceTableId().toByteArray());
    StringBuilder why = new StringBuilder();
    SignedPriceTable signedTable = ctx.tables.acceptable(tableId, why);
    if (signedTable == null) {
      reject(Status.FAILED_PRECONDITION, "header: " + why);
      return;
    }
    PriceTable table = signedTable.table();
    byte[] programBytes = header.getProgram().toByteArray();
    Program decoded;
    try {
      decoded = new ProgramDecoder(table.limits()).decode(programBytes);
    } catch (ProgramException e) {
      reject(Status.INVALID_ARGUMENT, "header: program: " + e.reason() + ": " + e.getMessage());
      return;
    }
    byte[] withdrawalBytes = header.getSignedWithdrawal().toByteArray();
    SignedWithdrawal signed;
    try {
      signed = SignedWithdrawal.parse(withdrawalBytes);
    } catch (VerificationException e) {
      reject(Status.INVALID_ARGUMENT, "header: signed_withdrawal: " + e.getMessage());
      return;
    }
    long durationUnits = header.getDurationUnits();
    if (durationUnits < 0) {
      reject(Status.INVALID_ARGUMENT, "header: duration_units " + Long.toUnsignedString(durationUnits)
          + " is above 2^63 - 1");
      return;
    }
    // The current table's limit, not the header's: an operator lowering it takes effect at once.
    int limit = ctx.tables.limits().maxConcurrentPrograms();
    if (!ctx.admit(limit)) {
      reject(Status.RESOURCE_EXHAUSTED, "the host runs " + limit + " programs, its maxConcurrentPrograms;"
          + " retry later");
      return;
    }
    admitted = true;
    Amount budget;
    try {
      // Verifies the withdrawal (host, table, expiry, signature) once, then takes the budget atomically.
      budget = ctx.cashier.accept(signed, tableId);
    } catch (PricingException e) {
      reject(Statuses.of(e.reason()), "header: signed_withdrawal: " + e.getMessage());
      return;
    }
    Withdrawal withdrawal = signed.withdrawal();
    PublicKey account = withdrawal.account();
    // Checked after the signature verified, so nobody can spend another account's tokens.
    if (!ctx.rate.tryAcquire(account)) {
      ctx.ledger.refund(account, budget);
      reject(Status.RESOURCE_EXHAUSTED, "account " + account + " starts programs faster than "
          + ctx.config.programsPerSecondPerAccount() + " per second (burst "
          + ctx.config.programBurstPerAccount() + "); the whole budget was returned (the withdrawal's nonce"
          + " is used); retry later");
      return;
    }
    Hash programId = ProgramEncoding.programId(programBytes, withdrawalBytes);
    Meter opened;
    try {
      opened = Meter.open(table, programId, budget, programBytes.length, durationUnits,
          ctx.cashier.refunderFor(account));
    } catch (BudgetExceededException e) {
      // Meter.open refunded the whole budget already.
      reject(Status.RESOURCE_EXHAUSTED, "budget: " + e.getMessage());
      return;
    }
    ProgramData programData = new ProgramData(decoded.dataLength(),
        Math.max(1, Math.min(ctx.config.maxBufferedBytes(), decoded.dataLength())));
    instructionPartSent = opened.charged().instruction().units();
    memoryPartSent = opened.charged().memory().units();
    synchronized (this) {
      this.table = table;
      this.account = account;
      program = decoded;
      meter = opened;
      data = programData;
      state = State.RUNNING;
    }
    try {
      meter.chargeUpload(size);
    } catch (BudgetExceededException e) {
      meter.fail();
      end(Status.RESOURCE_EXHAUSTED, "BUDGET", -1, "budget: " + e.getMessage(), sign(meter.close()), "failed");
      return;
    }
    log.debug("program {} from {}: {} instructions, {} data bytes, budget {}", programId, account,
        decoded.instructions().size(), decoded.dataLength(), budget);
    try {
      ctx.programPool.execute(this::runProgram);
    } catch (RejectedExecutionException e) {
      meter.fail();
      end(Status.UNAVAILABLE, "UNAVAILABLE", -1, "the host is shutting down", sign(meter.close()), "failed");
      return;
    }
    out.request(1);
  }

  private void onData(ExecuteRequest request) {
    int size = request.getSerializedSize();
    ctx.metrics.bytesReceived.inc(size);
    synchronized (this) {
      if (state == State.AWAIT_HEADER) {
        reject(Status.INVALID_ARGUMENT, "program data before the ProgramHeader: the header comes first");
        return;
      }
      if (state == State.ENDED || abortStatus != null) {
        return;
      }
    }
    try {
      meter.chargeUpload(size);
    } catch (BudgetExceededException e) {
      abort(Status.RESOURCE_EXHAUSTED, "BUDGET", "budget: " + e.getMessage()
          + " (this data message is not counted)");
      return;
    } catch (IllegalStateException e) {
      abort(Status.INVALID_ARGUMENT, "PROTOCOL", "program data after the end: the program has ended");
      return;
    }
    byte[] chunk = request.getData().toByteArray();
    long declared = program.dataLength();
    synchronized (this) {
      if (received == declared) {
        abort(Status.INVALID_ARGUMENT, "PROTOCOL", "program data after the end: all " + declared
            + " declared bytes were already received");
        return;
      }
      if (chunk.length > declared - received) {
        abort(Status.INVALID_ARGUMENT, "PROTOCOL", "program data over the declared length: a chunk of "
            + chunk.length + " bytes at offset " + received + " goes past the declared " + declared + " bytes");
        return;
      }
      heldChunk = chunk;
    }
    feed();
  }

  /** Appends the held chunk if it fits under the buffer limit now; otherwise tries again shortly. */
  private void feed() {
    boolean requestNext = false;
    synchronized (this) {
      if (heldChunk == null || state == State.ENDED || abortStatus != null) {
        return;
      }
      boolean fits;
      try {
        fits = data.awaitRoom(heldChunk.length, Duration.ZERO);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        fits = false;
      }
      if (fits) {
        try {
          data.append(heldChunk);
        } catch (ProgramException e) {
          heldChunk = null;
          abort(Status.INVALID_ARGUMENT, "DATA", "program data: " + e.getMessage());
          return;
        }
        received += heldChunk.length;
        heldChunk = null;
        notifyAll();
        requestNext = true;
      }
    }
    if (requestNext) {
      out.request(1);
    } else {
      try {
        ctx.scheduler.schedule(this::feed, RETRY_FEED_MILLIS, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        abort(Status.UNAVAILABLE, "UNAVAILABLE", "the host is shutting down");
      }
    }
  }

  private void onDecision(boolean confirm) {
    PendingCommit commit;
    synchronized (this) {
      switch (state) {
        case AWAIT_HEADER -> {
          reject(Status.INVALID_ARGUMENT, "a CommitDecision before the ProgramHeader: the header comes first");
          return;
        }
        case RUNNING -> {
          abort(Status.FAILED_PRECONDITION, "PROTOCOL", "a CommitDecision before a CommitProposal"
              + (program.isReadOnly() ? " (a read-only program gets none)" : ""));
          return;
        }
        case AWAIT_DECISION -> {
          state = State.DECIDING;
          commit = pending;
        }
        default -> {
          return;
        }
      }
    }
    out.request(1);
    if (confirm) {
      try {
        SignedReceipt receipt = commit.confirm();
        endCommitted(receipt, commit.proposedHeads());
      } catch (ProgramStoppedException e) {
        SignedReceipt receipt = e.receiptOrNull() != null ? e.receiptOrNull() : sign(meter.close());
        end(Statuses.of(e.reason()), e.reason().name(), e.instructionIndex(), e.getMessage(), receipt, "failed");
      }
    } else {
      end(Status.ABORTED, "REFUSED", -1, "the renter refused the commit; nothing was written", commit.refuse(),
          "refused");
    }
  }

  @Override
  public void onError(Throwable t) {
    onCancel();
  }

  @Override
  public void onCompleted() {
    synchronized (this) {
      halfClosed = true;
      switch (state) {
        case AWAIT_HEADER -> reject(Status.INVALID_ARGUMENT, "the stream closed before a ProgramHeader");
        case RUNNING -> {
          if (received < program.dataLength()) {
            abort(Status.INVALID_ARGUMENT, "DATA", "the renter closed its side after " + received + " of "
                + program.dataLength() + " bytes of program data");
          }
        }
        case AWAIT_DECISION -> abort(Status.ABORTED, "REFUSED",
            "the renter closed its side without a CommitDecision; nothing was written");
        default -> { }
      }
    }
  }

  private void onCancel() {
    synchronized (this) {
      cancelled = true;
    }
    abort(Status.CANCELLED, "CANCELLED", "the renter cancelled the call");
  }

  private void onReady() {
    synchronized (this) {
      notifyAll();
    }
  }

  /** Shutdown: the program stops (a pending commit is refused) and the renter gets UNAVAILABLE. */
  void shutdown() {
    abort(Status.UNAVAILABLE, "UNAVAILABLE", "the host is shutting down; nothing was written");
  }

  // ---------------------------------------------------------------- the program (worker thread)

  private void runProgram() {
    Outcome outcome;
    try {
      if (program.instructions().isEmpty()) {
        awaitDataComplete();
      }
      outcome = ctx.executor.run(program, data, meter, account, this::deliver);
    } catch (ProgramStoppedException e) {
      SignedReceipt receipt = e.receiptOrNull() != null ? e.receiptOrNull() : sign(closeFailed());
      synchronized (this) {
        if (abortStatus != null) {
          end(abortStatus, abortReason, e.instructionIndex(), abortStatus.getDescription(), receipt, "failed");
          return;
        }
      }
      end(Statuses.of(e.reason()), e.reason().name(), e.instructionIndex(), e.getMessage(), receipt, "failed");
      return;
    } catch (OutputUnpaid e) {
      end(Status.RESOURCE_EXHAUSTED, "BUDGET", e.index, e.getMessage(), sign(closeFailed()), "failed");
      return;
    } catch (CallAborted e) {
      Status status;
      String reason;
      synchronized (this) {
        status = abortStatus;
        reason = abortReason;
      }
      end(status, reason, -1, status.getDescription(), sign(closeFailed()), "failed");
      return;
    } catch (RuntimeException | Error e) {
      log.error("program failed unexpectedly", e);
      end(Status.INTERNAL, "INTERNAL", -1, "the host failed running the program: " + e, sign(closeFailed()),
          "failed");
      return;
    }
    if (outcome instanceof Outcome.Finished finished) {
      Status status;
      String reason;
      synchronized (this) {
        status = abortStatus;
        reason = abortReason;
      }
      if (status != null) {
        end(status, reason, -1, status.getDescription(), finished.receipt(), "failed");
      } else {
        endFinished(finished.receipt());
      }
      return;
    }
    PendingCommit commit = (PendingCommit) outcome;
    String refusal = null;
    Status status = null;
    synchronized (this) {
      if (abortStatus != null) {
        status = abortStatus;
        refusal = abortReason;
        state = State.DECIDING;
      } else if (halfClosed) {
        status = Status.ABORTED.withDescription(
            "the renter closed its side before the CommitProposal; nothing was written");
        refusal = "REFUSED";
        state = State.DECIDING;
      } else {
        pending = commit;
        state = State.AWAIT_DECISION;
      }
    }
    if (status == null) {
      // The executor discards the commit at its deadline; this ends the call then too, even if the
      // renter never says anything again.
      long delay = Math.max(0, Duration.between(ctx.config.clock().instant(), commit.deadline()).toMillis()) + 20;
      try {
        ctx.scheduler.schedule(() -> expireIfUndecided(commit), delay, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        // Shutting down: close() ends every call.
      }
    }
    if (status != null) {
      end(status, refusal, -1, status.getDescription(), commit.refuse(), "failed");
      return;
    }
    CommitProposal.Builder proposal = CommitProposal.newBuilder().setCost(commit.costSoFar().units());
    for (Hash head : commit.proposedHeads()) {
      proposal.addHeads(ByteString.copyFrom(head.toByteArray()));
    }
    try {
      send(ExecuteResponse.newBuilder().setProposal(proposal).build());
    } catch (CallAborted e) {
      // abort() refused the pending commit and ended the call.
    }
  }

  private void expireIfUndecided(PendingCommit commit) {
    synchronized (this) {
      if (state != State.AWAIT_DECISION) {
        return;
      }
      state = State.DECIDING;
    }
    end(Status.DEADLINE_EXCEEDED, "EXPIRED", -1, "no CommitDecision within " + ctx.config.commitTimeout()
        + "; nothing was written", commit.refuse(), "failed");
  }

  /** Closes the meter of a program that stopped; every later close returns the same receipt. */
  private dev.capsulevm.pricing.Receipt closeFailed() {
    meter.fail();
    return meter.close();
  }

  private SignedReceipt sign(dev.capsulevm.pricing.Receipt receipt) {
    return receipt.sign(ctx.hostKey);
  }

  /** The executor's consumer: meters, then sends one output (program thread). */
  private void deliver(InstructionOutput output) {
    checkNotAborted();
    InstructionResult result = InstructionResult.newBuilder()
        .setIndex(output.index())
        .setCostSoFar(output.costSoFar().units())
        .setOutput(ByteString.copyFrom(OutputEncoding.encode(output.output())))
        .setMaxOutputBytes(output.charged().maxOutputBytes())
        .build();
    ExecuteResponse response = ExecuteResponse.newBuilder().setResult(result).build();
    int size = response.getSerializedSize();
    try {
      meter.chargeDownload(size);
    } catch (BudgetExceededException e) {
      unpaidBound = output.charged().maxOutputBytes();
      throw new OutputUnpaid(output.index(), "budget: the output of instruction " + output.index()
          + " could not be paid for: " + e.getMessage());
    }
    ctx.metrics.instructions.labelValues(output.charged().kind().name()).inc();
    awaitReady();
    send(response);
    delivered = output.index() + 1;
    instructionPartSent = meter.charged().instruction().units();
    memoryPartSent = meter.charged().memory().units();
    ctx.metrics.bytesSent.inc(size);
    if (output.index() == program.instructions().size() - 1) {
      awaitDataComplete();
    }
  }

  private synchronized void checkNotAborted() {
    if (abortStatus != null) {
      throw new CallAborted();
    }
  }

  /** Waits until the renter can take another message, at most sendTimeout. */
  private void awaitReady() {
    long deadline = System.nanoTime() + ctx.config.sendTimeout().toNanos();
    synchronized (this) {
      while (abortStatus == null && !out.isReady()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          abortLocked(Status.DEADLINE_EXCEEDED, "SLOW_RENTER", "the renter did not read the outputs within "
              + ctx.config.sendTimeout());
          break;
        }
        waitNanos(left);
      }
    }
    checkNotAborted();
  }

  /**
   * Waits until every declared byte of program data has arrived, at most dataTimeout. Called when no
   * instruction needs data any more, so everything is released first: the rest is dropped as it
   * arrives and never waits for buffer room.
   */
  private void awaitDataComplete() {
    data.releaseBefore(program.dataLength());
    long deadline = System.nanoTime() + ctx.config.dataTimeout().toNanos();
    synchronized (this) {
      while (abortStatus == null && received < program.dataLength()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          abortLocked(Status.DEADLINE_EXCEEDED, "DATA", "program data: " + received + " of "
              + program.dataLength() + " declared bytes arrived within " + ctx.config.dataTimeout());
          break;
        }
        waitNanos(left);
      }
    }
    checkNotAborted();
  }

  private void waitNanos(long nanos) {
    try {
      TimeUnit.NANOSECONDS.timedWait(this, nanos);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      abortLocked(Status.UNAVAILABLE, "INTERRUPTED", "the host is shutting down");
    }
  }

  // ---------------------------------------------------------------- ending

  /** A protocol error from the renter: before the header it ends the call, afterwards it aborts the program. */
  private void protocolError(Status status, String message) {
    boolean beforeHeader;
    synchronized (this) {
      beforeHeader = state == State.AWAIT_HEADER;
    }
    if (beforeHeader) {
      reject(status, message);
    } else {
      abort(status, "PROTOCOL", message);
    }
  }

  /**
   * Stops the program for a reason outside it. A running program fails at its next step (its data is
   * failed, so a wait for data ends at once); a pending commit is refused here; the first abort wins.
   */
  private void abort(Status status, String reason, String message) {
    PendingCommit refuse = null;
    ProgramData fail = null;
    boolean rejectNow = false;
    synchronized (this) {
      if (state == State.ENDED || abortStatus != null) {
        return;
      }
      abortLocked(status, reason, message);
      switch (state) {
        case AWAIT_HEADER -> rejectNow = true;
        case RUNNING -> fail = data;
        case AWAIT_DECISION -> {
          state = State.DECIDING;
          refuse = pending;
        }
        default -> { }
      }
    }
    if (rejectNow) {
      reject(status, message);
    } else if (fail != null) {
      fail.fail(message);
    } else if (refuse != null) {
      end(abortStatus, reason, -1, message, refuse.refuse(), "failed");
    }
  }

  private void abortLocked(Status status, String reason, String message) {
    if (abortStatus == null) {
      abortStatus = status.withDescription(message);
      abortReason = reason;
      if (data != null && state == State.RUNNING) {
        data.fail(message);
      }
      notifyAll();
    }
  }

  /** Ends a call that holds no budget: just the status. */
  private void reject(Status status, String message) {
    synchronized (this) {
      if (state == State.ENDED) {
        return;
      }
      state = State.ENDED;
    }
    ctx.calls.remove(this);
    if (admitted) {
      ctx.release();
    }
    ctx.metrics.programs.labelValues("rejected").inc();
    ctx.metrics.errors.labelValues(status.getCode().name()).inc();
    log.debug("Execute refused: {} {}", status.getCode(), message);
    synchronized (sendLock) {
      if (!cancelled) {
        try {
          out.onError(status.withDescription(message).asRuntimeException());
        } catch (RuntimeException e) {
          log.debug("could not send the status", e);
        }
      }
    }
  }

  private void endFinished(SignedReceipt receipt) {
    if (finishState()) {
      sendEnd(ProgramEnd.newBuilder().setSignedReceipt(ByteString.copyFrom(receipt.encode())).build(), null,
          "finished");
    }
  }

  private void endCommitted(SignedReceipt receipt, List<Hash> heads) {
    if (finishState()) {
      ProgramEnd.Builder end = ProgramEnd.newBuilder().setSignedReceipt(ByteString.copyFrom(receipt.encode()));
      for (Hash head : heads) {
        end.addCommittedHeads(ByteString.copyFrom(head.toByteArray()));
      }
      sendEnd(end.build(), null, "committed");
    }
  }

  /** Ends a program that failed after its budget was taken: ProgramEnd with the failure, then the status. */
  private void end(Status status, String reason, int instruction, String message, SignedReceipt receipt,
      String outcome) {
    if (!finishState()) {
      return;
    }
    String text = message == null ? status.getCode().name() : message;
    ProgramEnd end = ProgramEnd.newBuilder()
        .setSignedReceipt(ByteString.copyFrom(receipt.encode()))
        .setFailure(Failure.newBuilder().setReason(reason == null ? "UNKNOWN" : reason)
            .setInstruction(instruction).setMessage(text)
            .setMaxOutputBytes(unsentBound(receipt.receipt())))
        .build();
    boolean wasCancelled;
    synchronized (this) {
      wasCancelled = cancelled;
    }
    sendEnd(end, status.withDescription(text), wasCancelled ? "cancelled" : outcome);
  }

  /**
   * The output bound the last charged instruction was charged for when its output was never sent (it
   * failed while running, or its response could not be paid for); 0 otherwise. Derived from what the
   * meter's instruction part (or, with a zero per-byte price, its memory part) grew by since the last
   * output was sent, which only instruction charges change; when neither price depends on the bound,
   * any bound gives the same cost and 0 is reported.
   */
  private long unsentBound(dev.capsulevm.pricing.Receipt receipt) {
    int charged = receipt.instructionsCharged();
    if (program == null || charged == 0 || charged <= delivered) {
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

  /** Moves to ENDED once; false when another path ended the call first. */
  private boolean finishState() {
    synchronized (this) {
      if (state == State.ENDED) {
        return false;
      }
      state = State.ENDED;
      notifyAll();
    }
    ctx.calls.remove(this);
    if (admitted) {
      ctx.release();
    }
    ctx.programsRun.incrementAndGet();
    return true;
  }

  private void sendEnd(ProgramEnd end, Status errorOrNull, String outcome) {
    ctx.metrics.programs.labelValues(outcome).inc();
    ctx.metrics.latency.observe((System.nanoTime() - startNanos) / 1e9);
    if (errorOrNull != null) {
      ctx.metrics.errors.labelValues(errorOrNull.getCode().name()).inc();
    }
    synchronized (sendLock) {
      if (cancelled) {
        return;
      }
      try {
        out.onNext(ExecuteResponse.newBuilder().setEnd(end).build());
        if (errorOrNull == null) {
          out.onCompleted();
        } else {
          out.onError(errorOrNull.asRuntimeException());
        }
      } catch (RuntimeException e) {
        log.debug("could not send the end of a program", e);
      }
    }
  }

  /** Sends one message; lock order is this object's monitor before {@link #sendLock}, never the reverse. */
  private void send(ExecuteResponse response) {
    boolean failed = false;
    synchronized (sendLock) {
      if (cancelled) {
        failed = true;
      } else {
        try {
          out.onNext(response);
        } catch (RuntimeException e) {
          log.debug("could not send a response", e);
          failed = true;
        }
      }
    }
    if (failed) {
      // The call was cancelled under us.
      abort(Status.CANCELLED, "CANCELLED", "the call was cancelled");
      throw new CallAborted();
    }
  }
}
