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
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proto.v1.CommitDecision;
import dev.capsulevm.proto.v1.CommitProposal;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.InstructionResult;
import dev.capsulevm.proto.v1.ProgramEnd;
import dev.capsulevm.proto.v1.ProgramHeader;
import dev.capsulevm.renter.HostMisbehaviourException.Part;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One program on its {@code Execute} stream. Outputs are verified as they arrive, in the gRPC thread,
 * and only then handed over: to the listener given at submission, to the blocking iterator
 * ({@link #iterator()}), and at the end as a {@link ProgramResult} ({@link #result()} blocking,
 * {@link #completion()} asynchronous).
 *
 * <p>What is checked, per output: its index; the serialized size of its response message against the
 * bound the host charged for ({@code max_output_bytes}); that bound against the renter's own bound
 * where the renter can compute one; the output's bytes (strict parse), proofs against the anchor and
 * the shared proof cache, signatures, the heads an append leaves; {@code cost_so_far} against the exact
 * range the renter computes (the only unknown is how much program data the host had received when it
 * reported). A read-write program is confirmed only once every output verified and the proposal's heads
 * and cost are exactly what the renter computes. At the end: the receipt's signature and every field
 * of it against {@link RenterCheck}, the committed heads, and whether the failure report agrees with
 * the receipt. Any failed check cancels the stream (so a write is never confirmed) and ends the run
 * with {@link HostMisbehaviourException}.
 */
public final class ProgramRun implements Iterable<VerifiedOutput> {
  private static final Object END = new Object();

  private final PreparedProgram prepared;
  private final PriceTable table;
  private final CostModel model;
  private final ProofVerifier verifier;
  private final Amount budget;
  private final long durationUnits;
  private final Hash programId;
  private final List<ExecuteRequest> requests;
  private final long bytesSent;
  /** uploadedBefore[k]: the serialized size of the header and the first k data messages. */
  private final long[] uploadedBefore;
  private final int chunkSize;
  private final CostBreakdown estimate;
  private final @Nullable Consumer<VerifiedOutput> listenerOrNull;

  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private final CompletableFuture<ProgramResult> future = new CompletableFuture<>();
  private final List<VerifiedOutput> outputs = new ArrayList<>();
  private final List<InstructionDescriptor> charged = new ArrayList<>();
  private long bytesReceived;
  private long verificationNanos;
  private @Nullable List<Hash> lastAppendHeads;
  private @Nullable List<Hash> proposedHeads;
  private boolean finished;
  /** The status the host refused the program with before it ran (no output, no receipt), or null. */
  private Status.@Nullable Code refusalOrNull;
  /** The request side of the call; null until {@link #start} sends the program. */
  private @Nullable StreamObserver<ExecuteRequest> out;

  ProgramRun(PreparedProgram prepared, PriceTable table, ProofVerifier verifier, Amount budget, long durationUnits,
      byte[] signedWithdrawal, List<ExecuteRequest> requests, CostBreakdown estimate,
      @Nullable Consumer<VerifiedOutput> listenerOrNull) {
    this.prepared = prepared;
    this.table = table;
    this.model = CostModel.of(table);
    this.verifier = verifier;
    this.budget = budget;
    this.durationUnits = durationUnits;
    this.programId = dev.capsulevm.program.ProgramEncoding.programId(prepared.encodedUnsafe(), signedWithdrawal);
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
    this.estimate = estimate;
    this.listenerOrNull = listenerOrNull;
  }

  /**
   * The request messages of a program, exactly as they are sent: the header, then the program data in
   * chunks of at most {@code chunkSize} bytes. Their serialized sizes are the program's upload.
   */
  static List<ExecuteRequest> requests(PreparedProgram prepared, Hash priceTableId, byte[] signedWithdrawal,
      long durationUnits, int chunkSize) {
    List<ExecuteRequest> requests = new ArrayList<>();
    requests.add(ExecuteRequest.newBuilder().setHeader(ProgramHeader.newBuilder()
        .setProgram(ByteString.copyFrom(prepared.encodedUnsafe()))
        .setPriceTableId(ByteString.copyFrom(priceTableId.toByteArray()))
        .setSignedWithdrawal(ByteString.copyFrom(signedWithdrawal))
        .setDurationUnits(durationUnits)).build());
    byte[] data = prepared.dataUnsafe();
    for (int offset = 0; offset < data.length; offset += chunkSize) {
      int length = Math.min(chunkSize, data.length - offset);
      requests.add(ExecuteRequest.newBuilder().setData(ByteString.copyFrom(data, offset, length)).build());
    }
    return requests;
  }

  /** The program's id, as the receipt names it. */
  public Hash programId() {
    return programId;
  }

  /** The renter's estimate, an upper bound on the final cost. */
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

  /** Sends the program on {@code call}, whose responses must be fed to {@link #responses()}. */
  void start(StreamObserver<ExecuteRequest> call) {
    this.out = call;
    try {
      for (ExecuteRequest request : requests) {
        call.onNext(request);
      }
    } catch (RuntimeException e) {
      fail(new RenterException("sending the program failed: " + e.getMessage(), e));
    }
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
          try {
            handle(response);
            verificationNanos += System.nanoTime() - started;
          } catch (HostMisbehaviourException e) {
            cancel(e);
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
            if (outputs.isEmpty()) {
              refusalOrNull = status.getCode();
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

  private void handle(ExecuteResponse response) throws HostMisbehaviourException {
    switch (response.getKindCase()) {
      case RESULT -> result(response);
      case PROPOSAL -> proposal(response.getProposal());
      case END -> end(response.getEnd());
      default -> throw new HostMisbehaviourException(Part.STREAM, outputs.size(), "an empty response message");
    }
  }

  private void result(ExecuteResponse response) throws HostMisbehaviourException {
    List<ProgramBuilder.Step> steps = prepared.steps();
    int index = outputs.size();
    if (proposedHeads != null || index >= steps.size()) {
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
    if (step.renterBoundOrMinusOne() >= 0 && bound > step.renterBoundOrMinusOne()) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, "the host charged for an output bound of " + bound
          + " bytes, the renter's bound is " + step.renterBoundOrMinusOne());
    }
    Output output;
    RecordHeader proven;
    try {
      output = OutputEncoding.decode(step.instruction(), result.getOutput().toByteArray());
      long derived = OutputVerifier.boundFromOutput(step, output);
      if (derived >= 0 && bound > derived) {
        throw new OutputVerifier.Bad("the host charged for an output bound of " + bound
            + " bytes, the output it sent implies " + derived);
      }
      proven = OutputVerifier.verify(step, output, prepared.program().capsuleIdOrNull(), verifier);
    } catch (VerificationException e) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, e.getMessage(), e);
    } catch (OutputVerifier.Bad e) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, e.getMessage(), e);
    }
    Instruction instruction = step.instruction();
    InstructionDescriptor descriptor = new InstructionDescriptor(instruction.kind(), instruction.inputBytes(),
        bound, step.storageBytes());
    charged.add(descriptor);
    checkCostSoFar(index, result.getCostSoFar());
    bytesReceived += size;
    if (output instanceof Output.Appended appended) {
      lastAppendHeads = appended.proposedHeads();
    }
    VerifiedOutput verified = new VerifiedOutput(index, instruction, output, proven, bound, result.getCostSoFar(), size);
    outputs.add(verified);
    queue.add(verified);
    if (listenerOrNull != null) {
      listenerOrNull.accept(verified);
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
    Amount fixed = model.programCost(prepared.encodedLength());
    for (InstructionDescriptor d : charged) {
      fixed = fixed.plus(model.instructionCost(d)).plus(model.memoryCost(d)).plus(model.storageCost(d, durationUnits));
    }
    fixed = fixed.plus(model.downloadCost(bytesReceived));
    long low = fixed.plus(model.uploadCost(uploadedBefore[messagesNeeded(index)])).units();
    long high = fixed.plus(model.uploadCost(bytesSent)).units();
    if (reported < low || reported > high) {
      throw new HostMisbehaviourException(Part.OUTPUT, index, "cost_so_far is " + reported + " units, the renter computes "
          + (low == high ? String.valueOf(low) : "between " + low + " and " + high));
    }
  }

  /** How many data messages hold every byte instructions 0..{@code index} reference. */
  private int messagesNeeded(int index) {
    long referenced = 0;
    for (int i = 0; i <= index && i < prepared.steps().size(); i++) {
      for (dev.capsulevm.program.DataRef ref : prepared.steps().get(i).instruction().refs()) {
        if (ref.length() > 0) {
          referenced = Math.max(referenced, ref.end());
        }
      }
    }
    return (int) ((referenced + chunkSize - 1) / chunkSize);
  }

  private void proposal(CommitProposal proposal) throws HostMisbehaviourException {
    int n = prepared.steps().size();
    if (prepared.isReadOnly() || outputs.size() != n || proposedHeads != null) {
      throw new HostMisbehaviourException(Part.STREAM, outputs.size(), "an unexpected commit proposal");
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
    // The outputs before it verified, so the host has the program, which start() sent.
    Objects.requireNonNull(out)
        .onNext(ExecuteRequest.newBuilder().setDecision(CommitDecision.newBuilder().setConfirm(true)).build());
  }

  private void end(ProgramEnd end) throws HostMisbehaviourException {
    int n = prepared.steps().size();
    SignedReceipt signed;
    try {
      signed = SignedReceipt.parse(end.getSignedReceipt().toByteArray());
    } catch (VerificationException e) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the receipt does not parse: " + e.getMessage(), e);
    }
    Receipt claimed = signed.receipt();
    boolean failed = end.hasFailure();
    if (failed != claimed.failed()) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the end reports " + (failed ? "a" : "no")
          + " failure, the receipt says failed=" + claimed.failed());
    }
    List<InstructionDescriptor> descriptors = new ArrayList<>(charged);
    int c = claimed.instructionsCharged();
    if (c < outputs.size() || c > Math.min(n, outputs.size() + 1) || (!failed && c != n)) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, "the receipt charges " + c
          + " instructions; the renter received " + outputs.size() + " outputs of " + n);
    }
    if (c == outputs.size() + 1) {
      long reported = failed ? end.getFailure().getMaxOutputBytes() : 0;
      descriptors.add(reported > 0 ? reportedFailedInstruction(reported, outputs.size())
          : failedInstruction(claimed, outputs.size()));
    }
    long uploadCounted = bytesSent;
    if (failed && claimed.uploadBytes() < bytesSent) {
      // A program that failed before all its data was charged (its budget ran out on a data message, or
      // it stopped) counts only the messages charged: a prefix of what was sent, holding at least the
      // bytes every charged instruction referenced.
      int needed = messagesNeeded(Math.max(0, c - 1));
      for (int k = needed; k < uploadedBefore.length; k++) {
        if (uploadedBefore[k] == claimed.uploadBytes()) {
          uploadCounted = claimed.uploadBytes();
        }
      }
    }
    Receipt receipt;
    try {
      receipt = RenterCheck.check(signed, table, shape(descriptors), programId, budget, uploadCounted, bytesReceived);
    } catch (PricingException e) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1, e.reason() + ": " + e.getMessage(), e);
    }
    List<Hash> committed = hashes(end.getCommittedHeadsList(), Part.RECEIPT);
    if (failed) {
      if (!committed.isEmpty()) {
        throw new HostMisbehaviourException(Part.RECEIPT, -1, "a failed program reports committed heads");
      }
      Failure failure = end.getFailure();
      ProgramFailedException.Reason reason = ProgramFailedException.Reason.fromWire(failure.getReason());
      String message = reason == ProgramFailedException.Reason.UNKNOWN
          ? "(reason " + failure.getReasonValue() + ", unknown to this SDK) " + failure.getMessage()
          : failure.getMessage();
      finish(new ProgramFailedException(reason, failure.getInstruction(), message, receipt, outputs));
      return;
    }
    List<Hash> expected = prepared.isReadOnly() ? List.of() : proposedHeads;
    if (expected == null) {
      throw new HostMisbehaviourException(Part.STREAM, -1, "a read-write program ended without a proposal");
    }
    if (!committed.equals(expected)) {
      throw new HostMisbehaviourException(Part.RECEIPT, -1,
          "the committed heads are " + committed + ", the confirmed proposal was " + expected);
    }
    finish(new ProgramResult(outputs, receipt, estimate, committed, bytesSent, bytesReceived, this::verificationNanos));
  }

  /** The descriptor of a charged instruction whose output was never sent, at the bound the failure reports. */
  private InstructionDescriptor reportedFailedInstruction(long bound, int index) throws HostMisbehaviourException {
    ProgramBuilder.Step step = prepared.steps().get(index);
    if (step.renterBoundOrMinusOne() >= 0 && bound > step.renterBoundOrMinusOne()) {
      throw new HostMisbehaviourException(Part.RECEIPT, index, "the failure reports an output bound of " + bound
          + " bytes for instruction " + index + ", the renter's bound is " + step.renterBoundOrMinusOne());
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
      handled = in + Math.max(0, step.renterBoundOrMinusOne());
    }
    long bound = handled - in;
    if (handled < 0 || bound < 0 || (step.renterBoundOrMinusOne() >= 0 && bound > step.renterBoundOrMinusOne())) {
      throw new HostMisbehaviourException(Part.RECEIPT, index, "the receipt charges the failed instruction "
          + index + " for an impossible output bound (" + bound + " bytes; the renter's bound is "
          + step.renterBoundOrMinusOne() + ")");
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

  private void cancel(HostMisbehaviourException e) {
    if (out != null) {
      try {
        out.onError(Status.CANCELLED.withDescription("the renter refuses: " + e.getMessage()).asRuntimeException());
      } catch (RuntimeException ignored) {
        // the call is gone already
      }
    }
    fail(e);
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
    halfClose();
    future.complete(result);
    queue.add(END);
  }

  private void finish(RenterException error) {
    if (finished) {
      return;
    }
    finished = true;
    if (error instanceof ProgramFailedException) {
      halfClose();
    }
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

  /** Blocks until the program ends; returns its verified result. */
  public ProgramResult result() throws RenterException {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RenterException("interrupted waiting for the program", e);
    } catch (ExecutionException e) {
      throw (RenterException) e.getCause();
    }
  }

  /**
   * Whether the host refused the program with {@code code} before running it: the call ended with that
   * status before any output or receipt, which the host does only before it takes the budget.
   */
  synchronized boolean refusedBeforeRunning(Status.Code code) {
    return refusalOrNull == code;
  }

  /** Completes with the verified result, or exceptionally with a {@link RenterException}. */
  public CompletableFuture<ProgramResult> completion() {
    return future.thenApply(r -> r);
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
