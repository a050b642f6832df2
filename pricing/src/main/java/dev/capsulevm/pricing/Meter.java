package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The running account of one program against its budget: every charge is checked before the work it
 * pays for happens, and {@link #close()} refunds the unspent budget exactly once.
 *
 * <p>Every method that changes the meter is synchronized: the host charges uploads on gRPC's threads
 * while the program thread charges instructions and outputs, and {@link #fail()} and {@link #close()}
 * may come from any thread, any number of times, which keeps an early failure racing a normal finish
 * from refunding twice (Sia's bug).
 */
public final class Meter {
  private final CostModel model;
  private final Hash programId;
  private final Hash priceTableId;
  private final long budget;
  private final long durationUnits;
  private final Refunder refunder;

  private long instruction;
  private long bandwidth;
  private long memory;
  private long storage;
  private long spent;
  private int instructionsCharged;
  private long uploadBytes;
  private long downloadBytes;
  private boolean failed;
  private volatile boolean closed;
  private @Nullable Receipt receipt;

  private Meter(PriceTable table, Hash programId, long budget, long durationUnits, Refunder refunder) {
    this.model = CostModel.of(table);
    this.priceTableId = table.id();
    this.programId = programId;
    this.budget = budget;
    this.durationUnits = durationUnits;
    this.refunder = refunder;
  }

  /**
   * Starts metering a program of {@code programBytes} paid with {@code budget}, charging the program
   * start cost. If the budget cannot cover even that, the whole budget goes back through
   * {@code refunder} before the exception is thrown, so the caller must not refund it again.
   */
  public static Meter open(PriceTable table, Hash programId, Amount budget, long programBytes,
      long durationUnits, Refunder refunder) throws BudgetExceededException {
    Objects.requireNonNull(table, "table");
    Objects.requireNonNull(programId, "programId");
    Objects.requireNonNull(budget, "budget");
    Objects.requireNonNull(refunder, "refunder");
    if (programBytes < 0 || durationUnits < 0) {
      throw new IllegalArgumentException("programBytes and durationUnits are never negative");
    }
    Meter meter = new Meter(table, programId, budget.units(), durationUnits, refunder);
    long start = meter.model.program(programBytes);
    if (start > meter.budget) {
      refunder.refund(budget);
      throw new BudgetExceededException("starting a program of " + programBytes + " bytes",
          Amount.of(start), budget);
    }
    meter.instruction = start;
    meter.spent = start;
    return meter;
  }

  /** Charges for a request message of {@code messageBytes} received on the program's stream. */
  public synchronized void chargeUpload(long messageBytes) throws BudgetExceededException {
    long cost = model.upload(nonNegative(messageBytes));
    take(cost, "receiving a message of " + messageBytes + " bytes");
    bandwidth += cost;
    uploadBytes = Amount.add(uploadBytes, messageBytes);
  }

  /** Charges for a response message of {@code messageBytes}, before it is sent. */
  public synchronized void chargeDownload(long messageBytes) throws BudgetExceededException {
    long cost = model.download(nonNegative(messageBytes));
    take(cost, "sending a message of " + messageBytes + " bytes");
    bandwidth += cost;
    downloadBytes = Amount.add(downloadBytes, messageBytes);
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
   * Marks the program failed: its storage part will be refunded at {@link #close()}. Does nothing once
   * the meter is closed, so a failure path that loses a race with the normal finish changes nothing.
   */
  public synchronized void fail() {
    if (receipt == null) {
      failed = true;
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
   * Ends the program: the first call settles the final cost, refunds the rest of the budget (plus the
   * storage part if it failed) through the refunder and returns the receipt; later calls return the same
   * receipt and refund nothing.
   */
  public synchronized Receipt close() {
    if (receipt != null) {
      return receipt;
    }
    closed = true;
    receipt = settled();
    refunder.refund(receipt.refund());
    return receipt;
  }

  /**
   * Where a refund goes instead of the refunder: for example a storage batch that commits the refund
   * in the same transaction as the program's writes. It may throw; see {@link #closeThrough}.
   */
  @FunctionalInterface
  public interface RefundSink<E extends Exception> {
    void accept(Amount refund) throws E;
  }

  /**
   * Ends the program like {@link #close()}, but hands the refund to {@code sink} instead of the
   * refunder, under this meter's lock. If the sink returns normally the meter is closed with the receipt
   * it was given the refund of, and the refunder is never called; if the sink throws, the meter is left
   * exactly as it was (open, nothing refunded) and the exception propagates, so the caller can still
   * {@link #fail()} and {@link #close()} it. On a meter already closed it returns the receipt and does
   * not call the sink. The refund is the one {@link #close()} would give now: the storage part is kept
   * unless the program was failed.
   */
  public synchronized <E extends Exception> Receipt closeThrough(RefundSink<E> sink) throws E {
    Objects.requireNonNull(sink, "sink");
    if (receipt != null) {
      return receipt;
    }
    Receipt settled = settled();
    sink.accept(settled.refund());
    closed = true;
    receipt = settled;
    return receipt;
  }

  /** The receipt of the program ending now (failed or not as marked), without closing anything. */
  private Receipt settled() {
    CostBreakdown cost = failed ? charged().withoutStorage() : charged();
    Amount refund = Amount.of(budget).minus(cost.total());
    return new Receipt(programId, priceTableId, Amount.of(budget), failed, instructionsCharged,
        uploadBytes, downloadBytes, cost, refund);
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
