package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.merkle.MerkleRootBuilder;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The running account of one program against its budget: every charge is checked before the work it
 * pays for happens, every output sent is added to the program's transcript, and {@link #close()}
 * settles the receipt and refunds the unspent budget exactly once.
 *
 * <p>Every method that changes the meter is synchronized: the host charges uploads on gRPC's threads
 * while the program thread charges instructions and outputs, and {@link #fail} and {@link #close()}
 * may come from any thread, any number of times, which keeps an early failure racing a normal finish
 * from refunding twice (Sia's bug). The first failure is the one the receipt states: a later one (the
 * stream breaking while the program already failed) changes nothing.
 */
public final class Meter {
  private final CostModel model;
  private final PublicKey hostKey;
  private final Hash programId;
  private final Hash priceTableId;
  private final @Nullable Hash capsuleIdOrNull;
  private final long budget;
  private final long durationUnits;
  private final Refunder refunder;
  private final Clock clock;
  // The transcript's root in O(log n) memory; the leaves themselves are the renter's to keep.
  private final MerkleRootBuilder transcript = new MerkleRootBuilder();

  private long instruction;
  private long bandwidth;
  private long memory;
  private long storage;
  private long spent;
  private int instructionsCharged;
  private int outputCount;
  private long uploadBytes;
  private long downloadBytes;
  private Receipt.@Nullable Failed failure;
  private volatile boolean closed;
  private @Nullable Receipt receipt;

  private Meter(PriceTable table, Hash programId, @Nullable Hash capsuleIdOrNull, long budget, long durationUnits,
      Refunder refunder, Clock clock) {
    this.model = CostModel.of(table);
    this.hostKey = table.hostKey();
    this.priceTableId = table.id();
    this.programId = programId;
    this.capsuleIdOrNull = capsuleIdOrNull;
    this.budget = budget;
    this.durationUnits = durationUnits;
    this.refunder = refunder;
    this.clock = clock;
  }

  /**
   * Starts metering a program of {@code programBytes} paid with {@code budget}, charging the program
   * start cost. If the budget cannot cover even that, no meter exists and the refunder is never called:
   * the caller gives the whole budget back itself (a host releases its {@link Reservation}).
   *
   * @param capsuleIdOrNull the capsule the program names, or null; the receipt states it
   * @param clock where the receipt's issuedAt comes from (read at settlement, to the millisecond)
   */
  public static Meter open(PriceTable table, Hash programId, @Nullable Hash capsuleIdOrNull, Amount budget,
      long programBytes, long durationUnits, Refunder refunder, Clock clock) throws BudgetExceededException {
    Objects.requireNonNull(table, "table");
    Objects.requireNonNull(programId, "programId");
    Objects.requireNonNull(budget, "budget");
    Objects.requireNonNull(refunder, "refunder");
    Objects.requireNonNull(clock, "clock");
    if (programBytes < 0 || durationUnits < 0) {
      throw new IllegalArgumentException("programBytes and durationUnits are never negative");
    }
    Meter meter = new Meter(table, programId, capsuleIdOrNull, budget.units(), durationUnits, refunder, clock);
    long start = meter.model.program(programBytes);
    if (start > meter.budget) {
      throw new BudgetExceededException("starting a program of " + programBytes + " bytes",
          Amount.of(start), budget);
    }
    meter.instruction = start;
    meter.spent = start;
    return meter;
  }

  /** How many duration units the program's added storage is paid for. */
  public long durationUnits() {
    return durationUnits;
  }

  /** The price table's {@code storagePerByteDurationUnit}, at which the program's storage is charged. */
  public Amount storagePerByteDurationUnit() {
    return model.prices().storagePerByteDurationUnit();
  }

  /** Charges for a request message of {@code messageBytes} received on the program's stream. */
  public synchronized void chargeUpload(long messageBytes) throws BudgetExceededException {
    long cost = model.upload(nonNegative(messageBytes));
    take(cost, "receiving a message of " + messageBytes + " bytes");
    bandwidth += cost;
    uploadBytes = Amount.add(uploadBytes, messageBytes);
  }

  /**
   * Charges for the response message of {@code messageBytes} that carries one output, before it is
   * sent, and adds the output's transcript leaf ({@code leaf}, the RFC 9162 leaf hash of its transcript
   * entry) in the same step: an output that could not be paid for is neither charged nor in the
   * transcript.
   *
   * @throws IllegalStateException when there would be more outputs than charged instructions (a bug)
   */
  public synchronized void chargeOutput(long messageBytes, Hash leaf) throws BudgetExceededException {
    Objects.requireNonNull(leaf, "leaf");
    if (outputCount >= instructionsCharged) {
      throw new IllegalStateException("output " + outputCount + " answers no charged instruction ("
          + instructionsCharged + " charged)");
    }
    long cost = model.download(nonNegative(messageBytes));
    take(cost, "sending a message of " + messageBytes + " bytes");
    bandwidth += cost;
    downloadBytes = Amount.add(downloadBytes, messageBytes);
    transcript.addLeafHash(leaf);
    outputCount++;
  }

  /** Charges the instruction, memory and storage parts of an instruction, before it runs. */
  public synchronized void chargeInstruction(InstructionDescriptor d) throws BudgetExceededException {
    long i = model.instruction(d);
    long m = model.memory(d);
    long s = model.storage(d, durationUnits);
    long cost = Amount.add(Amount.add(i, m), s);
    if (cost > budget - spent) {
      refuse(cost, "instruction " + instructionsCharged + " (" + d.kind() + ")");
    }
    checkOpen();
    spent += cost;
    instruction += i;
    memory += m;
    storage += s;
    instructionsCharged++;
  }

  /**
   * Marks the program failed, which the receipt states and which refunds the storage part. Only the
   * first failure counts; later ones, and any once the meter is closed, change nothing, so a failure
   * path that loses a race with another changes nothing either.
   *
   * @param instructionOrMinus1 the failing instruction's index, or -1 for a failure outside any
   * @param reasonCode the wire {@code FailureReason} number, 1 to 255
   * @param message why; cut to {@link Receipt#MAX_MESSAGE_BYTES} by {@link Receipt#truncateMessage}
   */
  public synchronized void fail(int instructionOrMinus1, int reasonCode, String message) {
    Receipt.Failed failed = new Receipt.Failed(instructionOrMinus1, reasonCode, Receipt.truncateMessage(message));
    if (receipt == null && failure == null) {
      failure = failed;
    }
  }

  /** What is left of the budget. */
  public Amount remaining() {
    return Amount.of(budget - spent);
  }

  /** What has been charged so far, storage included even if the program has failed. */
  public CostBreakdown charged() {
    return new CostBreakdown(Amount.of(instruction), Amount.of(bandwidth), Amount.of(memory), Amount.of(storage));
  }

  /**
   * Ends the program: the first call settles the receipt (completed with no heads committed, or the
   * first failure), refunds the rest of the budget (plus the storage part if it failed) through the
   * refunder and returns the receipt; later calls return the same receipt and refund nothing.
   */
  public synchronized Receipt close() {
    return closeWith(Receipt.Completed.NOTHING_COMMITTED);
  }

  /**
   * Ends a program whose writes were committed outside the meter: like {@link #close()} (the refund goes
   * through the refunder), but a completed program's receipt states {@code committedHeads}, as with
   * {@link #closeThrough}.
   *
   * @throws IllegalArgumentException as {@link #closeThrough} does, before anything is settled
   */
  public synchronized Receipt close(List<Hash> committedHeads) {
    Objects.requireNonNull(committedHeads, "committedHeads");
    return closeWith(new Receipt.Completed(committedHeads));
  }

  private Receipt closeWith(Receipt.Completed ifCompleted) {
    if (receipt != null) {
      return receipt;
    }
    Receipt settled = settled(ifCompleted);
    closed = true;
    receipt = settled;
    refunder.refund(settled.refund(), programId);
    return settled;
  }

  /**
   * Where a refund goes instead of the refunder: for example a storage batch that commits the refund
   * in the same transaction as the program's writes. It may throw; see {@link #closeThrough}.
   */
  @FunctionalInterface
  public interface RefundSink<E extends Exception> {
    void accept(Amount refund, Hash programId) throws E;
  }

  /**
   * Ends a program that commits: like {@link #close()}, but the receipt states {@code committedHeads}
   * and the refund goes to {@code sink} instead of the refunder, under this meter's lock. If the sink
   * returns normally the meter is closed with the receipt it was given the refund of, and the refunder
   * is never called; if the sink throws, the meter is left exactly as it was (open, nothing refunded)
   * and the exception propagates, so the caller can still {@link #fail} and {@link #close()} it. On a
   * meter already closed it returns the receipt and does not call the sink. The refund is the one
   * {@link #close()} would give now: the storage part is kept unless the program was failed, and a
   * failed program's receipt states its failure and no heads.
   *
   * @param committedHeads the capsule's heads after the commit, strictly ascending; empty when the
   *     program names no capsule
   * @throws IllegalArgumentException when the heads are not strictly ascending, or the program names no
   *     capsule and heads are given (before the sink is called)
   */
  public synchronized <E extends Exception> Receipt closeThrough(List<Hash> committedHeads, RefundSink<E> sink)
      throws E {
    Objects.requireNonNull(committedHeads, "committedHeads");
    Objects.requireNonNull(sink, "sink");
    if (receipt != null) {
      return receipt;
    }
    Receipt settled = settled(new Receipt.Completed(committedHeads));
    sink.accept(settled.refund(), programId);
    closed = true;
    receipt = settled;
    return settled;
  }

  /** The receipt of the program ending now, without closing anything. */
  private Receipt settled(Receipt.Completed ifCompleted) {
    Receipt.Failed failed = failure;
    CostBreakdown cost = failed != null ? charged().withoutStorage() : charged();
    Amount refund = Amount.of(budget).minus(cost.total());
    Instant issuedAt = clock.instant().truncatedTo(ChronoUnit.MILLIS);
    return new Receipt(hostKey, issuedAt, programId, priceTableId, capsuleIdOrNull, Amount.of(budget),
        instructionsCharged, uploadBytes, downloadBytes, cost, refund, outputCount, transcript.root(),
        failed != null ? failed : ifCompleted);
  }

  private void take(long cost, String what) throws BudgetExceededException {
    if (cost > budget - spent) {
      refuse(cost, what);
    }
    checkOpen();
    spent += cost;
  }

  private void refuse(long cost, String what) throws BudgetExceededException {
    throw new BudgetExceededException(what, Amount.of(cost), Amount.of(budget - spent));
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("program " + programId + " is closed; nothing more can be charged");
    }
  }

  private static long nonNegative(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("a message is never " + bytes + " bytes");
    }
    return bytes;
  }
}
