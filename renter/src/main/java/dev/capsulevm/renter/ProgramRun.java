package dev.capsulevm.renter;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.CostModel;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.ProgramShape;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.RenterCheck;
import dev.capsulevm.pricing.SealedReceipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proto.tls.ChannelSecurity;
import dev.capsulevm.proto.v1.CommitDecision;
import dev.capsulevm.proto.v1.CommitProposal;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.InstructionResult;
import dev.capsulevm.proto.v1.ProgramEnd;
import dev.capsulevm.proto.v1.ProgramHeader;
import dev.capsulevm.renter.HostMisbehaviourException.Part;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import org.jspecify.annotations.Nullable;

/**
 * One program on its {@code Execute} stream. Outputs are verified as they arrive, in the gRPC thread,
 * and only then handed over: to the listener given at submission, to the blocking iterator
 * ({@link #iterator()}), and at the end as a {@link ProgramResult} ({@link #result()} blocking,
 * {@link #completion()} asynchronous).
 *
 * <p>What is checked, per output: its index; the serialized size of its response message against the
 * bound the host charged for ({@code max_output_bytes}); that bound against the renter's limit where it
 * has one and against the bound the output itself implies; the output's bytes (strict parse), proofs
 * against the anchor and the shared proof cache, signatures and writers, the heads an append leaves;
 * {@code cost_so_far} against the exact range the renter computes (the only unknown is how much program
 * data the host had received when it reported). Each verified output enters the renter's own transcript
 * (docs/FORMAT.md, "Transcript"). A read-write program is confirmed only once every output verified and
 * the proposal's heads and cost are exactly what the renter computes. At the end: the receipt's
 * signature, host, capsule and time, and every field of it against {@link RenterCheck}: the costs, the
 * transcript root and output count, and the end (the failure the {@code ProgramEnd} reports, itself
 * consistent with the outputs received, or the confirmed heads). Any failed check cancels the stream
 * (so a write is never confirmed) and ends the run with {@link HostMisbehaviourException}.
 *
 * <p>Two ends need a look at the capsule afterwards, which {@link #result()} and {@link #completion()}
 * take (never the gRPC thread): a write the renter confirmed whose end then fails verification
 * ({@link WriteCommittedException} when its records are in the capsule), and an append that met heads
 * another writer added ({@link AppendConflictException} once they check out).
 */
public final class ProgramRun implements Iterable<VerifiedOutput> {
  private static final Object END = new Object();
  /** How far a receipt's issuedAt may lie outside the program's run by the renter's clock. */
  static final Duration CLOCK_TOLERANCE = Duration.ofMinutes(5);
  /** A DEADLINE_EXCEEDED this close to the call's deadline is that deadline ({@link #deadlinePassed()}). */
  private static final long DEADLINE_SLACK_MILLIS = 1_000;

  private final PreparedProgram prepared;
  private final PriceTable table;
  private final CostModel model;
  private final ProofVerifier verifier;
  private final Amount budget;
  private final long durationUnits;
  private final Hash programId;
  /** How the program is paid: told of its end, so a payment session counts what it has left. */
  private final Payment payment;
  private final List<ExecuteRequest> requests;
  private final long bytesSent;
  /** uploadedBefore[k]: the serialized size of the header and the first k data messages. */
  private final long[] uploadedBefore;
  private final int chunkSize;
  private final CostBreakdown estimate;
  private final @Nullable Consumer<VerifiedOutput> listenerOrNull;
  /** Told each output's index as its response arrives, before it is checked; set before the call starts. */
  private @Nullable IntConsumer arrivalOrNull;
  /** Runs the follow-up programs some ends need; null only in tests that drive a run by hand. */
  private final @Nullable HostClient clientOrNull;
  private final Clock clock;
  /** When it was prepared, then when it was sent ({@link #start}): receipts are checked from there. Guarded by this. */
  private Instant submittedAt;
  /** When it was prepared: its payment's age. */
  private final Instant preparedAt;
  /** The heads the header states the program leaves (the host then commits without a proposal); empty: none. */
  private final List<Hash> statedHeads;

  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private final CompletableFuture<ProgramResult> future = new CompletableFuture<>();
  private final List<VerifiedOutput> outputs = new ArrayList<>();
  private final List<InstructionDescriptor> charged = new ArrayList<>();
  /** What {@link #charged} costs (instruction, memory and storage): kept as it grows, not summed per output. */
  private Amount chargedCost = Amount.ZERO;
  /** Per instruction, how many data messages hold every byte it and the instructions before it reference. */
  private final int[] messagesNeededThrough;
  private final Transcript transcript = new Transcript();
  private long bytesReceived;
  private long verificationNanos;
  private @Nullable List<Hash> lastAppendHeads;
  private @Nullable List<Hash> proposedHeads;
  /** The heads of the proposal the renter confirmed; null until it confirms one. */
  private @Nullable List<Hash> confirmedHeadsOrNull;
  /** An append that met heads the renter does not know: the renter refuses the commit. */
  private OutputVerifier.@Nullable Conflict conflictOrNull;
  private int conflictIndex = -1;
  private boolean finished;
  /** The receipt of the program's end once it verified; null before, or when it did not. */
  private @Nullable Receipt verifiedReceiptOrNull;
  /** The status the host refused the program with before it ran (no output, no receipt), or null. */
  private Status.@Nullable Code refusalOrNull;
  /** The request side of the call; null until {@link #start} sends the program. */
  private @Nullable StreamObserver<ExecuteRequest> out;
  /** The gRPC deadline of the call and the duration it was set from; null when none was set. */
  private @Nullable Deadline deadlineOrNull;
  private Duration programDeadline = Duration.ZERO;
  /** Times the host's silence; null when there is no idle timeout. */
  private @Nullable Scheduler idleSchedulerOrNull;
  private Duration idleTimeout = Duration.ZERO;
  /** Cancels the pending idle timer; null when none is pending. */
  private @Nullable Runnable idleTimerOrNull;
  /** Bumped whenever the idle timer is re-armed, so a timer that fires late for an older one does nothing. */
  private long idleGeneration;
  /** The verdict once the follow-up (if any) ran: what {@link #result()} throws. Guarded by itself. */
  private final Object followUpLock = new Object();
  private @Nullable RenterException followedUpOrNull;

  ProgramRun(PreparedProgram prepared, PriceTable table, ProofVerifier verifier, Amount budget, long durationUnits,
      Payment payment, List<ExecuteRequest> requests, CostBreakdown estimate,
      @Nullable Consumer<VerifiedOutput> listenerOrNull, @Nullable HostClient clientOrNull, Clock clock) {
    this.prepared = prepared;
    this.table = table;
    this.model = CostModel.of(table);
    this.verifier = verifier;
    this.budget = budget;
    this.durationUnits = durationUnits;
    // The id covers whichever pays: a signed withdrawal, or a session's ticket in its place.
    this.programId = dev.capsulevm.program.ProgramEncoding.programId(prepared.encodedUnsafe(), payment.bytesUnsafe());
    this.payment = payment;
    this.requests = requests;
    long sent = 0;
    for (ExecuteRequest request : requests) {
      sent += request.getSerializedSize();
    }
    this.bytesSent = sent;
    this.uploadedBefore = new long[requests.size()];
    long cumulative = 0;
    for (int k = 0; k < requests.size(); k++) {
      cumulative += requests.get(k).getSerializedSize();
      uploadedBefore[k] = cumulative;
    }
    this.chunkSize = requests.size() > 1 ? requests.get(1).getData().size() : 1;
    this.messagesNeededThrough = new int[prepared.steps().size()];
    long referenced = 0;
    for (int i = 0; i < messagesNeededThrough.length; i++) {
      for (dev.capsulevm.program.DataRef ref : prepared.steps().get(i).instruction().refs()) {
        if (ref.length() > 0) {
          referenced = Math.max(referenced, ref.end());
        }
      }
      messagesNeededThrough[i] = (int) ((referenced + chunkSize - 1) / chunkSize);
    }
    this.estimate = estimate;
    this.listenerOrNull = listenerOrNull;
    this.clientOrNull = clientOrNull;
    this.clock = clock;
    this.submittedAt = clock.instant();
    this.preparedAt = submittedAt;
    List<Hash> stated = new ArrayList<>();
    requests.get(0).getHeader().getExpectedHeadsList().forEach(h -> stated.add(Hash.copyOf(h.toByteArray())));
    this.statedHeads = List.copyOf(stated);
  }

  /**
   * The request messages of a program, exactly as they are sent: the header ({@link #header}), then the
   * program data in chunks of at most {@code chunkSize} bytes. Their serialized sizes are the program's
   * upload. The list is mutable: a caller that built it with a {@link Payment#blank} payment to size the
   * estimate puts the real header in at index 0.
   */
  static List<ExecuteRequest> requests(PreparedProgram prepared, Hash priceTableId, Payment payment,
      long durationUnits, int chunkSize, List<Hash> statedHeads) {
    List<ExecuteRequest> requests = new ArrayList<>();
    requests.add(header(prepared, priceTableId, payment, durationUnits, statedHeads));
    byte[] data = prepared.dataUnsafe();
    for (int offset = 0; offset < data.length; offset += chunkSize) {
      int length = Math.min(chunkSize, data.length - offset);
      requests.add(ExecuteRequest.newBuilder().setData(ByteString.copyFrom(data, offset, length)).build());
    }
    return requests;
  }

  /**
   * The header message: the program, its price table, its payment (a signed withdrawal or a ticket, each of
   * a fixed length, so a blank one of the kind gives the same serialized size), and {@code statedHeads},
   * when there are any, as the heads the program must leave.
   */
  static ExecuteRequest header(PreparedProgram prepared, Hash priceTableId, Payment payment, long durationUnits,
      List<Hash> statedHeads) {
    ProgramHeader.Builder header = ProgramHeader.newBuilder()
        .setProgram(ByteString.copyFrom(prepared.encodedUnsafe()))
        .setPriceTableId(ByteString.copyFrom(priceTableId.toByteArray()))
        .setDurationUnits(durationUnits);
    ByteString paid = ByteString.copyFrom(payment.bytesUnsafe());
    if (payment.isTicket()) {
      header.setTicket(paid).setSealReceipt(payment.sealsReceipt());
    } else {
      header.setSignedWithdrawal(paid);
    }
    for (Hash head : statedHeads) {
      header.addExpectedHeads(ByteString.copyFrom(head.toByteArray()));
    }
    return ExecuteRequest.newBuilder().setHeader(header).build();
  }

  /** The program's id, as the receipt names it. */
  public Hash programId() {
    return programId;
  }

  /** The renter's estimate ({@link HostClient#estimate}). */
  public CostBreakdown estimate() {
    return estimate;
  }

  public Amount budget() {
    return budget;
  }

  /** The serialized size of every request message sent (the program's upload). */
  public long bytesSent() {
    return bytesSent;
  }

  /**
   * The time limits of the call, set before {@link #start}: {@code deadline} is the call's gRPC deadline
   * (from {@code programDeadline}); with a positive {@code idle}, the call is cancelled when the host sends
   * nothing for that long, timed by {@code scheduler}.
   */
  synchronized void limit(Deadline deadline, Duration programDeadline, Scheduler scheduler, Duration idle) {
    this.deadlineOrNull = deadline;
    this.programDeadline = programDeadline;
    if (!idle.isZero()) {
      this.idleSchedulerOrNull = scheduler;
      this.idleTimeout = idle;
    }
  }

  /** Sends the program on {@code call}, whose responses must be fed to {@link #responses()}. */
  void start(StreamObserver<ExecuteRequest> call) {
    synchronized (this) {
      this.out = call;
      this.submittedAt = clock.instant();
      if (!statedHeads.isEmpty()) {
        // Stated up front, so from the first byte sent the host may commit exactly these heads.
        confirmedHeadsOrNull = statedHeads;
      }
      armIdleTimer();
    }
    try {
      for (ExecuteRequest request : requests) {
        call.onNext(request);
      }
    } catch (RuntimeException e) {
      fail(new RenterException("sending the program failed: " + e.getMessage(), e));
    }
  }

  /**
   * Whether it may run on a program stream (docs/PROTOCOL.md, "Program streams"): its data takes at most
   * two messages, which any host buffers without pacing (one chunk always fits its empty buffer, one more
   * is held), and the host commits or ends it without waiting for a decision (read-only, or its heads
   * stated).
   */
  boolean fitsStream() {
    return requests.size() <= 3 && (prepared.isReadOnly() || !statedHeads.isEmpty());
  }

  /** The price table it was prepared under. */
  PriceTable table() {
    return table;
  }

  /** When it was prepared (its payment made). */
  Instant preparedAt() {
    return preparedAt;
  }

  /** It was prepared and will never be sent: its payment's budget goes back. */
  void abandoned() {
    payment.abandoned();
  }

  /**
   * Tells {@code hook} the index each output is labelled with as its response arrives, in the gRPC thread,
   * before anything of it is checked: what the host says it has run, for a caller that orders its next
   * program behind this one ({@link PendingAppend}); never evidence of anything. Set before {@link #start}.
   */
  void onOutputArrival(IntConsumer hook) {
    this.arrivalOrNull = hook;
  }

  /** What the caller's listener threw, carried out of {@code handle} to be told apart from the host's faults. */
  private static final class ListenerThrew extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient RuntimeException thrown;

    ListenerThrew(RuntimeException thrown) {
      super(null, null, false, false);
      this.thrown = thrown;
    }
  }

  /**
   * Cancels the program unless it has ended: the call is cancelled, so the host stops it and refunds what
   * it did not spend, and {@link #result()} throws {@link ProgramCancelledException}. A write whose heads
   * were stated (or whose commit was confirmed) may have been committed already.
   */
  public synchronized void cancel() {
    if (finished) {
      return;
    }
    fail(new ProgramCancelledException("the caller cancelled the program after " + outputs.size()
        + " verified outputs" + mayHaveCommittedNote(), confirmedHeadsOrNull != null, null));
  }

  private String mayHaveCommittedNote() {
    return confirmedHeadsOrNull == null ? "" : " (the write may be in the capsule: the host could commit "
        + confirmedHeadsOrNull + " before it learned of the cancellation)";
  }

  /** The observer the gRPC call delivers responses to. */
  StreamObserver<ExecuteResponse> responses() {
    return new StreamObserver<>() {
      @Override
      public void onNext(ExecuteResponse response) {
        synchronized (ProgramRun.this) {
          if (finished) {
            return;
          }
          long started = System.nanoTime();
          armIdleTimer();
          try {
            IntConsumer arrival = arrivalOrNull;
            if (arrival != null && response.hasResult()) {
              try {
                arrival.accept(response.getResult().getIndex());
              } catch (RuntimeException e) {
                throw new ListenerThrew(e);
              }
            }
            handle(response);
            verificationNanos += System.nanoTime() - started;
          } catch (HostMisbehaviourException | UnresolvedConflict e) {
            cancel(e);
          } catch (ListenerThrew e) {
            RuntimeException thrown = e.thrown;
            fail(new ListenerException("the caller's listener threw on output " + (outputs.size() - 1) + ": " + thrown
                + mayHaveCommittedNote(), confirmedHeadsOrNull != null, thrown));
          } catch (RuntimeException e) {
            cancel(new HostMisbehaviourException(Part.STREAM, outputs.size(), "unexpected: " + e, e));
          }
        }
      }

      @Override
      public void onError(Throwable t) {
        synchronized (ProgramRun.this) {
          if (!finished) {
            Status status = Status.fromThrowable(t);
            String tls = ChannelSecurity.handshakeFailure(t);
            if (tls != null) { // not a refusal to retry: the host's certificate is refused again
              fail(new RenterException("the program could not reach the host: " + tls, t));
              return;
            }
            if (outputs.isEmpty()) {
              refusalOrNull = status.getCode();
            }
            if (status.getCode() == Status.Code.DEADLINE_EXCEEDED
                && (deadlinePassed() || ProgramStream.deadlinePassed(t))) {
              fail(timedOut(DeadlineExceededException.Kind.PROGRAM, programDeadline,
                  "the program did not end within its deadline of " + programDeadline, t));
              return;
            }
            fail(new RenterException("the host ended the program without a receipt: " + status.getCode()
                + (status.getDescription() == null ? "" : " (" + status.getDescription() + ")")
                + " after " + outputs.size() + " verified outputs", t));
          }
        }
      }

      @Override
      public void onCompleted() {
        synchronized (ProgramRun.this) {
          if (!finished) {
            fail(new HostMisbehaviourException(Part.STREAM, -1, "the stream ended without a receipt"));
          }
        }
      }
    };
  }

  /**
   * Whether the call's own deadline is (all but) reached: the host may end the call with
   * DEADLINE_EXCEEDED a little before the renter's timer does, as it counts from the call's arrival.
   */
  private boolean deadlinePassed() {
    Deadline deadline = deadlineOrNull;
    return deadline != null && deadline.timeRemaining(TimeUnit.MILLISECONDS) < DEADLINE_SLACK_MILLIS;
  }

  /** (Re)starts the idle timer, if there is one and the run is not over. Called holding the lock. */
  private void armIdleTimer() {
    Scheduler scheduler = idleSchedulerOrNull;
    if (scheduler == null || finished) {
      return;
    }
    // The new timer first, then the old one cancelled: the new one is due after the old one, so the timer
    // thread keeps waiting for the old deadline instead of being woken for the new one on every message.
    Runnable previous = idleTimerOrNull;
    long generation = ++idleGeneration;
    idleTimerOrNull = scheduler.schedule(idleTimeout, () -> idleTimerFired(generation));
    if (previous != null) {
      previous.run();
    }
  }

  private void cancelIdleTimer() {
    Runnable timer = idleTimerOrNull;
    idleTimerOrNull = null;
    if (timer != null) {
      timer.run();
    }
  }

  /** The host sent nothing for the idle timeout: cancel the call (a write is then never confirmed). */
  private synchronized void idleTimerFired(long generation) {
    if (finished || generation != idleGeneration) {
      return;
    }
    idleTimerOrNull = null;
    fail(timedOut(DeadlineExceededException.Kind.IDLE, idleTimeout, "the host sent nothing for " + idleTimeout
        + " (the idle timeout)", null));
  }

  private DeadlineExceededException timedOut(DeadlineExceededException.Kind kind, Duration limit, String what,
      @Nullable Throwable cause) {
    return new DeadlineExceededException(kind, limit, what + "; the renter cancelled the call after "
        + outputs.size() + " verified outputs" + (confirmedHeadsOrNull != null
            ? ", after it had confirmed the commit (the write may be in the capsule)"
            : (prepared.isReadOnly() ? "" : "; nothing was committed")), cause);
  }

  private void handle(ExecuteResponse response) throws HostMisbehaviourException, UnresolvedConflict {
    switch (response.getKindCase()) {
      case RESULT -> result(response);
      case PROPOSAL -> proposal(response.getProposal());
      case END -> end(response.getEnd());
      default -> throw new HostMisbehaviourException(Part.STREAM, outputs.size(), "an empty response message");
    }
  }

  private void result(ExecuteResponse response) throws HostMisbehaviourException, UnresolvedConflict {
    List<ProgramBuilder.Step> steps = prepared.steps();
    int index = outputs.size();
    if (proposedHeads != null || index >= steps.size() || conflictOrNull != null) {
      throw new HostMisbehaviourException(Part.STREAM, index, "an output after the last instruction or the proposal");
    }
    InstructionResult result = response.getResult();
    if (result.getIndex() != index) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, "the output is labelled " + result.getIndex());
    }
    ProgramBuilder.Step step = steps.get(index);
    int size = response.getSerializedSize();
    long bound = result.getMaxOutputBytes();
    if (size > bound) {
      throw new HostMisbehaviourException(Part.OUTPUT, index,
          "the response is " + size + " bytes, more than the " + bound + " bytes the host charged for");
    }
    long limit = step.limit(table.limits());
    if (limit >= 0 && bound > limit) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, "the host charged for an output bound of " + bound
          + " bytes, the renter's limit is " + limit);
    }
    byte[] outputBytes = result.getOutput().toByteArray();
    Output output;
    RecordHeader proven = null;
    try {
      output = OutputEncoding.decode(step.instruction(), outputBytes);
      long derived = OutputVerifier.boundFromOutput(step, output);
      if (derived >= 0 && bound > derived) {
        throw new OutputVerifier.Bad("the host charged for an output bound of " + bound
            + " bytes, the output it sent implies " + derived);
      }
      try {
        proven = OutputVerifier.verify(step, output, prepared.program().capsuleIdOrNull(), verifier);
      } catch (OutputVerifier.Conflict e) {
        conflictOrNull = e;
        conflictIndex = index;
      }
    } catch (VerificationException e) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, e.getMessage(), e);
    } catch (OutputVerifier.Bad e) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, e.getMessage(), e);
    }
    Instruction instruction = step.instruction();
    InstructionDescriptor descriptor = new InstructionDescriptor(instruction.kind(), instruction.inputBytes(),
        bound, step.storageBytes());
    charged.add(descriptor);
    chargedCost = chargedCost.plus(model.instructionCost(descriptor)).plus(model.memoryCost(descriptor))
        .plus(model.storageCost(descriptor, durationUnits));
    checkCostSoFar(index, result.getCostSoFar());
    bytesReceived += size;
    if (output instanceof Output.Appended appended) {
      lastAppendHeads = appended.proposedHeads();
    }
    transcript.add(Transcript.leaf(index, instruction, prepared.inputs(index), outputBytes));
    VerifiedOutput verified = new VerifiedOutput(index, instruction, output, proven, bound, result.getCostSoFar(), size,
        outputBytes);
    outputs.add(verified);
    queue.add(verified);
    if (listenerOrNull != null) {
      try {
        listenerOrNull.accept(verified);
      } catch (RuntimeException e) {
        throw new ListenerThrew(e);
      }
    }
    OutputVerifier.Conflict conflict = conflictOrNull;
    if (conflict != null && index < steps.size() - 1) {
      // Later outputs would answer for heads the renter does not know: stop here (nothing is committed).
      throw new UnresolvedConflict(index, conflict.extraHeads(), null);
    }
  }

  /**
   * {@code cost_so_far} after instruction {@code index} is everything charged before its response was
   * sent: the program start, every instruction so far and the earlier responses are exact; of the
   * upload, the header and every data message up to the one holding the last byte an instruction so far
   * referenced were certainly received (an instruction waits for its bytes, and a message is charged
   * before its bytes are used), later ones may have been. For a program whose data fits in one message
   * the range is a single value.
   */
  private void checkCostSoFar(int index, long reported) throws HostMisbehaviourException {
    Amount fixed = model.programCost(prepared.encodedLength()).plus(chargedCost).plus(model.downloadCost(bytesReceived));
    long low = fixed.plus(model.uploadCost(uploadedBefore[messagesNeeded(index)])).units();
    long high = fixed.plus(model.uploadCost(bytesSent)).units();
    if (reported < low || reported > high) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, "cost_so_far is " + reported + " units, the renter computes "
          + (low == high ? String.valueOf(low) : "between " + low + " and " + high));
    }
  }

  /** How many data messages hold every byte instructions 0..{@code index} reference. */
  private int messagesNeeded(int index) {
    int n = messagesNeededThrough.length;
    return n == 0 ? 0 : messagesNeededThrough[Math.min(index, n - 1)];
  }

  private void proposal(CommitProposal proposal) throws HostMisbehaviourException {
    int n = prepared.steps().size();
    if (prepared.isReadOnly() || outputs.size() != n || proposedHeads != null || !statedHeads.isEmpty()) {
      throw new HostMisbehaviourException(Part.STREAM, outputs.size(), "an unexpected commit proposal"
          + (statedHeads.isEmpty() ? "" : " (the renter stated the program's heads: the host commits without one)"));
    }
    List<Hash> heads = hashes(proposal.getHeadsList(), Part.PROPOSAL);
    List<Hash> expected = lastAppendHeads == null ? List.of() : lastAppendHeads;
    if (!heads.equals(expected)) {
      throw new HostMisbehaviourException(Part.PROPOSAL, -1,
          "the proposed heads are " + heads + ", the verified outputs say " + expected);
    }
    long cost = model.finalCost(shape(), n, bytesSent, bytesReceived, false).total().units();
    if (proposal.getCost() != cost) {
      throw new HostMisbehaviourException(Part.PROPOSAL, -1,
          "the proposal's cost is " + proposal.getCost() + " units, the renter computes " + cost);
    }
    proposedHeads = heads;
    // An append conflict is refused, which ends the program with a receipt; anything else verified.
    boolean confirm = conflictOrNull == null;
    if (confirm) {
      confirmedHeadsOrNull = heads;
    }
    // The outputs before it verified, so the host has the program, which start() sent.
    Objects.requireNonNull(out)
        .onNext(ExecuteRequest.newBuilder().setDecision(CommitDecision.newBuilder().setConfirm(confirm)).build());
  }

  private void end(ProgramEnd end) throws HostMisbehaviourException {
    int n = prepared.steps().size();
    boolean sealed = payment.sealsReceipt();
    if (!(sealed ? end.getSignedReceipt() : end.getSealedReceipt()).isEmpty()) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the end carries a " + (sealed ? "signed" : "sealed")
          + " receipt; the renter asked for it " + (sealed ? "sealed" : "signed"));
    }
    SignedReceipt signed = null;
    SealedReceipt sealedReceipt = null;
    try {
      if (sealed) {
        sealedReceipt = SealedReceipt.parse(end.getSealedReceipt().toByteArray());
      } else {
        signed = SignedReceipt.parse(end.getSignedReceipt().toByteArray());
      }
    } catch (VerificationException e) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the receipt does not parse: " + e.getMessage(), e);
    }
    Receipt claimed = sealedReceipt != null ? sealedReceipt.receipt() : Objects.requireNonNull(signed).receipt();
    boolean failed = end.hasFailure();
    if (failed != claimed.failed()) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the end reports " + (failed ? "a" : "no")
          + " failure, the receipt says failed=" + claimed.failed());
    }
    Receipt.End expectedEnd = failed ? reportedFailure(end.getFailure()) : completedEnd();
    List<Hash> committed = hashes(end.getCommittedHeadsList(), Part.RECEIPT);
    if (!committed.equals(expectedEnd instanceof Receipt.Completed c ? c.committedHeads() : List.of())) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, failed ? "a failed program reports committed heads "
          + committed : "the committed heads are " + committed + ", the confirmed proposal was " + proposedHeads);
    }
    List<InstructionDescriptor> descriptors = new ArrayList<>(charged);
    int c = claimed.instructionsCharged();
    if (c < outputs.size() || c > Math.min(n, outputs.size() + 1) || (!failed && c != n)) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the receipt charges " + c
          + " instructions; the renter received " + outputs.size() + " outputs of " + n);
    }
    long reported = failed ? end.getFailure().getMaxOutputBytes() : 0;
    if (c == outputs.size() + 1) {
      descriptors.add(reported > 0 ? reportedFailedInstruction(reported, outputs.size())
          : failedInstruction(claimed, outputs.size()));
    } else if (reported != 0) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the failure reports an output bound of " + reported
          + " bytes, but every charged instruction sent its output");
    }
    long uploadCounted = bytesSent;
    if (failed && claimed.uploadBytes() < bytesSent) {
      // A program that failed before all its data was charged (its budget ran out on a data message, or
      // it stopped) counts only the messages charged: a prefix of what was sent, holding at least the
      // bytes every charged instruction referenced.
      // With no instruction charged no data was needed: the header alone may be all that was charged, or
      // nothing at all when the budget paid the program's start but not the header's own charge.
      int needed = c == 0 ? 0 : messagesNeeded(c - 1);
      if (c == 0 && claimed.uploadBytes() == 0) {
        uploadCounted = 0;
      }
      for (int k = needed; k < uploadedBefore.length; k++) {
        if (uploadedBefore[k] == claimed.uploadBytes()) {
          uploadCounted = claimed.uploadBytes();
        }
      }
    }
    Receipt receipt;
    try {
      RenterCheck.Observed observed = new RenterCheck.Observed(uploadCounted, bytesReceived, outputs.size(),
          transcript.root(), expectedEnd);
      receipt = sealedReceipt != null
          ? RenterCheck.check(sealedReceipt, payment.sealKey(), table, shape(descriptors), programId,
              prepared.program().capsuleIdOrNull(), budget, observed)
          : RenterCheck.check(Objects.requireNonNull(signed), table, shape(descriptors), programId,
              prepared.program().capsuleIdOrNull(), budget, observed);
    } catch (PricingException e) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, e.reason() + ": " + e.getMessage(), e);
    }
    Instant earliest = submittedAt.minus(CLOCK_TOLERANCE);
    Instant latest = clock.instant().plus(CLOCK_TOLERANCE);
    if (receipt.issuedAt().isBefore(earliest) || receipt.issuedAt().isAfter(latest)) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the receipt was issued at " + receipt.issuedAt()
          + ", outside the program's run by the renter's clock (" + earliest + " to " + latest + ")");
    }
    verifiedReceiptOrNull = receipt;
    if (clientOrNull != null && signed != null) {
      clientOrNull.receiptVerified(prepared, signed);
    }
    OutputVerifier.Conflict conflict = conflictOrNull;
    if (conflict != null) {
      finish(new UnresolvedConflict(conflictIndex, conflict.extraHeads(), receipt));
      return;
    }
    if (expectedEnd instanceof Receipt.Failed f) {
      ProgramFailedException.Reason reason = ProgramFailedException.Reason.fromWire(end.getFailure().getReason());
      String message = reason == ProgramFailedException.Reason.UNKNOWN
          ? "(reason " + f.reason() + ", unknown to this SDK) " + f.message()
          : f.message();
      finish(new ProgramFailedException(reason, f.instruction(), message, receipt, outputs));
      return;
    }
    finish(new ProgramResult(prepared, outputs, receipt, signed, transcript.leaves(), estimate, committed, bytesSent,
        bytesReceived, this::verificationNanos));
  }

  /**
   * The failure a {@code ProgramEnd} reports, which the receipt must state exactly, after checking that it
   * can be true of what the renter saw: a reason (1 to 255, as the receipt carries it), a message a receipt
   * can carry, and a failing instruction that is the next one after the outputs received (so still in the
   * program), or -1 for a failure outside any instruction; never one already answered.
   */
  private Receipt.Failed reportedFailure(Failure failure) throws HostMisbehaviourException {
    int n = prepared.steps().size();
    int instruction = failure.getInstruction();
    int next = outputs.size();
    if (instruction != Receipt.NO_INSTRUCTION && (instruction != next || next >= n)) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the failure names instruction " + instruction
          + ", but the renter received " + next + " outputs of " + n + " (only "
          + (next < n ? next + " or " : "") + "-1 can fail now)");
    }
    try {
      return new Receipt.Failed(instruction, failure.getReasonValue(), failure.getMessage());
    } catch (IllegalArgumentException e) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the failure cannot be stated in a receipt: "
          + e.getMessage(), e);
    }
  }

  /**
   * How a program that completed must end: with the heads of the proposal the renter confirmed (none for a
   * read-only program). A host that completes a program whose commit the renter refused, or that was
   * never proposed, misbehaves.
   */
  private Receipt.Completed completedEnd() throws HostMisbehaviourException {
    if (prepared.isReadOnly()) {
      return Receipt.Completed.NOTHING_COMMITTED;
    }
    List<Hash> confirmed = confirmedHeadsOrNull;
    if (!statedHeads.isEmpty() && conflictOrNull != null) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the host reports a commit, but the program met heads "
          + "other than the " + statedHeads + " the renter stated");
    }
    if (confirmed == null) {
      throw new HostMisbehaviourException(proposedHeads == null ? Part.STREAM : Part.RECEIPT, -1,
          proposedHeads == null ? "a read-write program ended without a proposal"
              : "the host reports a commit the renter refused");
    }
    try {
      return new Receipt.Completed(confirmed);
    } catch (IllegalArgumentException e) {
      throw new HostMisbehaviourException(Part.PROPOSAL, -1, e.getMessage(), e);
    }
  }

  /** The descriptor of a charged instruction whose output was never sent, at the bound the failure reports. */
  private InstructionDescriptor reportedFailedInstruction(long bound, int index) throws HostMisbehaviourException {
    ProgramBuilder.Step step = prepared.steps().get(index);
    long limit = step.limit(table.limits());
    if (limit >= 0 && bound > limit) {
      throw new HostMisbehaviourException(Part.RECEIPT, index, "the failure reports an output bound of " + bound
          + " bytes for instruction " + index + ", the renter's limit is " + limit);
    }
    Instruction instruction = step.instruction();
    return new InstructionDescriptor(instruction.kind(), instruction.inputBytes(), bound, step.storageBytes());
  }

  /**
   * The descriptor of an instruction that was charged and then failed, when the failure reports no bound
   * (0: the host sends none when neither the per-byte nor the memory price depends on it): no output
   * carried it, so the bound is solved from the receipt's instruction part (or memory part), must be a whole number of
   * bytes and within the renter's bound; {@link RenterCheck} then checks every other figure against it.
   */
  private InstructionDescriptor failedInstruction(Receipt receipt, int index) throws HostMisbehaviourException {
    ProgramBuilder.Step step = prepared.steps().get(index);
    long limit = step.limit(table.limits());
    Instruction instruction = step.instruction();
    long in = instruction.inputBytes();
    InstructionPrice price = table.prices().instruction(instruction.kind());
    Amount before = model.programCost(prepared.encodedLength());
    Amount memoryBefore = Amount.ZERO;
    for (InstructionDescriptor d : charged) {
      before = before.plus(model.instructionCost(d));
      memoryBefore = memoryBefore.plus(model.memoryCost(d));
    }
    long perByte = price.perByte().units();
    long memory = table.prices().memoryPerByteTimeUnit().units() * instruction.kind().timeUnits();
    long handled;
    if (perByte > 0) {
      long rest = receipt.cost().instruction().units() - before.units() - price.base().units();
      handled = rest >= 0 && rest % perByte == 0 ? rest / perByte : -1;
    } else if (memory > 0) {
      long rest = receipt.cost().memory().units() - memoryBefore.units();
      handled = rest >= 0 && rest % memory == 0 ? rest / memory : -1;
    } else {
      handled = in + Math.max(0, limit); // the bound changes no figure
    }
    long bound = handled - in;
    if (handled < 0 || bound < 0 || (limit >= 0 && bound > limit)) {
      throw new HostMisbehaviourException(Part.RECEIPT, index, "the receipt charges the failed instruction "
          + index + " for an impossible output bound (" + bound + " bytes; the renter's limit is " + limit + ")");
    }
    return new InstructionDescriptor(instruction.kind(), in, bound, step.storageBytes());
  }

  private ProgramShape shape() {
    return shape(charged);
  }

  private ProgramShape shape(List<InstructionDescriptor> descriptors) {
    List<InstructionDescriptor> all = new ArrayList<>(descriptors);
    List<ProgramBuilder.Step> steps = prepared.steps();
    for (int i = all.size(); i < steps.size(); i++) {
      all.add(steps.get(i).estimateDescriptor()); // never charged: does not enter the final cost
    }
    return new ProgramShape(prepared.encodedLength(), bytesSent, durationUnits, all);
  }

  private static List<Hash> hashes(List<ByteString> bytes, Part part) throws HostMisbehaviourException {
    List<Hash> hashes = new ArrayList<>();
    for (ByteString b : bytes) {
      if (b.size() != Hash.LENGTH) {
        throw new HostMisbehaviourException(part, -1, "a head of " + b.size() + " bytes");
      }
      hashes.add(Hash.copyOf(b.toByteArray()));
    }
    return hashes;
  }

  /** Cancels the call at once (the host then commits nothing) and ends the run with {@code e}. */
  private void cancel(RenterException e) {
    if (out != null && !finished) {
      try {
        out.onError(Status.CANCELLED.withDescription("the renter refuses: " + e.getMessage()).asRuntimeException());
      } catch (RuntimeException ignored) {
        // the call is gone already
      }
    }
    finish(e);
  }

  private void fail(RenterException e) {
    if (!finished && out != null && !(e instanceof HostMisbehaviourException)) {
      try {
        out.onError(Status.CANCELLED.withDescription(e.getMessage()).asRuntimeException());
      } catch (RuntimeException ignored) {
        // already closed
      }
    }
    finish(e);
  }

  private void finish(ProgramResult result) {
    if (finished) {
      return;
    }
    finished = true;
    cancelIdleTimer();
    halfClose();
    payment.ended(verifiedReceiptOrNull, null);
    future.complete(result);
    queue.add(END);
  }

  private void finish(RenterException error) {
    if (finished) {
      return;
    }
    finished = true;
    cancelIdleTimer();
    if (error instanceof ProgramFailedException
        || (error instanceof UnresolvedConflict conflict && conflict.receiptOrNull() != null)) {
      halfClose(); // the host ended the program
    }
    // Before the future completes: a caller that resends after a refusal finds the session settled.
    payment.ended(verifiedReceiptOrNull, outputs.isEmpty() && verifiedReceiptOrNull == null ? refusalOrNull : null);
    future.completeExceptionally(error);
    queue.add(END);
  }

  /** Ends the request side after the host's end message. */
  private void halfClose() {
    if (out == null) {
      return; // start() has sent nothing
    }
    try {
      out.onCompleted();
    } catch (RuntimeException ignored) {
      // the host closed first
    }
  }

  /** Time spent so far handling (parsing and verifying) the host's messages, in the gRPC thread. */
  public synchronized long verificationNanos() {
    return verificationNanos;
  }

  /**
   * Blocks until the program ends; returns its verified result. When its end needs a look at the capsule
   * (a confirmed write whose end failed verification, an append conflict), this runs the verified
   * programs that settle it first, in the calling thread, once.
   *
   * @throws WriteCommittedException the write is in the capsule, but the host misbehaved in its end
   * @throws AppendConflictException another writer appended first; nothing was committed
   */
  public ProgramResult result() throws RenterException {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RenterException("interrupted waiting for the program", e);
    } catch (ExecutionException e) {
      throw followUp((RenterException) Objects.requireNonNull(e.getCause()));
    }
  }

  /** Whether {@code error} leaves something to settle with follow-up programs. */
  private boolean needsFollowUp(Throwable error) {
    return clientOrNull != null && (error instanceof UnresolvedConflict
        || (error instanceof HostMisbehaviourException && confirmedHeads() != null));
  }

  private synchronized @Nullable List<Hash> confirmedHeads() {
    return confirmedHeadsOrNull;
  }

  /** The verdict on {@code error}, running the follow-up programs once. */
  private RenterException followUp(RenterException error) {
    if (!needsFollowUp(error)) {
      return error;
    }
    synchronized (followUpLock) {
      if (followedUpOrNull == null) {
        HostClient client = Objects.requireNonNull(clientOrNull); // needsFollowUp checked it
        followedUpOrNull = error instanceof UnresolvedConflict conflict
            ? WriteVerdicts.afterConflict(client, prepared, conflict)
            : WriteVerdicts.afterBadEnd(client, prepared, Objects.requireNonNull(confirmedHeads()),
                (HostMisbehaviourException) error);
      }
      return followedUpOrNull;
    }
  }

  /**
   * Whether the host refused the program with {@code code} before running it: the call ended with that
   * status before any output or receipt, which the host does only before it takes the budget.
   */
  synchronized boolean refusedBeforeRunning(Status.Code code) {
    return refusalOrNull == code;
  }

  /** Whether a payment session's ticket paid for the program (else its own signed withdrawal). */
  boolean paidByTicket() {
    return payment.isTicket();
  }

  /**
   * Completes with the verified result, or exceptionally with the {@link RenterException}
   * {@link #result()} throws; a follow-up runs in the common pool, never in the gRPC thread.
   */
  public CompletableFuture<ProgramResult> completion() {
    return future.exceptionallyCompose(error -> {
      if (!needsFollowUp(error)) {
        return CompletableFuture.failedFuture(error);
      }
      return CompletableFuture.supplyAsync(() -> {
        throw new CompletionException(followUp((RenterException) error));
      });
    });
  }

  /**
   * The verified outputs as they arrive: {@code hasNext} blocks for the next one. When the program
   * ends in an error, {@code hasNext} throws {@link UncheckedRenterException} carrying it once the
   * outputs verified before it are consumed. Iterate once.
   */
  @Override
  public Iterator<VerifiedOutput> iterator() {
    return new Iterator<>() {
      private @Nullable Object next;

      @Override
      public boolean hasNext() {
        if (next == null) {
          try {
            next = queue.take();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UncheckedRenterException(new RenterException("interrupted", e));
          }
        }
        if (next == END) {
          queue.add(END);
          if (future.isCompletedExceptionally()) {
            try {
              result();
            } catch (RenterException e) {
              throw new UncheckedRenterException(e);
            }
          }
          return false;
        }
        return true;
      }

      @Override
      public VerifiedOutput next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        VerifiedOutput v = (VerifiedOutput) Objects.requireNonNull(next); // hasNext() took it
        next = null;
        return v;
      }
    };
  }
}
