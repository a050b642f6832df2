package dev.capsulevm.pricing;

import java.util.List;
import java.util.Objects;

/**
 * The one definition of every cost formula, used by the host's {@link Meter} and by the renter's
 * estimate and receipt check alike, so the two sides cannot compute different figures.
 *
 * <p>Formulas (all in units, all exact; see docs/PROTOCOL.md, "Cost"):
 * <ul>
 *   <li>program start = programBase + programPerByte × programBytes (counted in the instruction part)
 *   <li>instruction = base[kind] + perByte[kind] × (inputBytes + maxOutputBytes)
 *   <li>memory = memoryPerByteTimeUnit × (inputBytes + maxOutputBytes) × timeUnits[kind]
 *   <li>storage = storagePerByteDurationUnit × storageBytesAdded × durationUnits
 *   <li>bandwidth = uploadPerByte × bytes received + downloadPerByte × bytes sent, each message counted
 *       at its serialized size
 * </ul>
 */
public final class CostModel {
  private final Prices prices;
  // Flattened per kind so the meter's hot path is array reads and exact multiplies, no map lookups.
  private final long[] base;
  private final long[] perByte;
  private final long programBase;
  private final long programPerByte;
  private final long uploadPerByte;
  private final long downloadPerByte;
  private final long memoryPerByteTimeUnit;
  private final long storagePerByteDurationUnit;

  /** The cost model for these prices. */
  @SuppressWarnings("EnumOrdinal") // indexes the flattened per-kind arrays
  public CostModel(Prices prices) {
    this.prices = Objects.requireNonNull(prices, "prices");
    InstructionKind[] kinds = InstructionKind.values();
    base = new long[kinds.length];
    perByte = new long[kinds.length];
    for (InstructionKind kind : kinds) {
      base[kind.ordinal()] = prices.instruction(kind).base().units();
      perByte[kind.ordinal()] = prices.instruction(kind).perByte().units();
    }
    programBase = prices.programBase().units();
    programPerByte = prices.programPerByte().units();
    uploadPerByte = prices.uploadPerByte().units();
    downloadPerByte = prices.downloadPerByte().units();
    memoryPerByteTimeUnit = prices.memoryPerByteTimeUnit().units();
    storagePerByteDurationUnit = prices.storagePerByteDurationUnit().units();
  }

  /** The cost model for a price table's prices. */
  public static CostModel of(PriceTable table) {
    return new CostModel(table.prices());
  }

  /** The prices this model charges. */
  public Prices prices() {
    return prices;
  }

  /** Starting a program of {@code programBytes}. */
  public Amount programCost(long programBytes) {
    return Amount.of(program(programBytes));
  }

  /** The instruction part of one instruction. */
  public Amount instructionCost(InstructionDescriptor d) {
    return Amount.of(instruction(d));
  }

  /** The memory part of one instruction. */
  public Amount memoryCost(InstructionDescriptor d) {
    return Amount.of(memory(d));
  }

  /** The storage part of one instruction, paid for {@code durationUnits}. */
  public Amount storageCost(InstructionDescriptor d, long durationUnits) {
    return Amount.of(storage(d, durationUnits));
  }

  /** Receiving {@code bytes} from the renter. */
  public Amount uploadCost(long bytes) {
    return Amount.of(upload(bytes));
  }

  /** Sending {@code bytes} to the renter. */
  public Amount downloadCost(long bytes) {
    return Amount.of(download(bytes));
  }

  /**
   * An upper bound on what the program can cost, from its shape alone: every instruction runs, the
   * renter sends {@link ProgramShape#requestBytes()}, and every response is as large as its bound.
   */
  public CostBreakdown estimate(ProgramShape shape) {
    long download = 0;
    for (InstructionDescriptor d : shape.instructions()) {
      download = Amount.add(download, d.maxOutputBytes());
    }
    CostBreakdown run = charged(shape, shape.instructions().size(), shape.requestBytes(), download);
    return run;
  }

  /**
   * The exact final cost of a program of which the first {@code instructionsCharged} instructions were
   * charged, {@code uploadBytes} were received and {@code downloadBytes} were sent; storage is refunded
   * when it {@code failed}. Both the meter's receipt and the renter's check must equal this.
   */
  public CostBreakdown finalCost(ProgramShape shape, int instructionsCharged, long uploadBytes,
      long downloadBytes, boolean failed) {
    if (instructionsCharged < 0 || instructionsCharged > shape.instructions().size()) {
      throw new IllegalArgumentException("instructionsCharged " + instructionsCharged + " is not in [0, "
          + shape.instructions().size() + "]");
    }
    CostBreakdown cost = charged(shape, instructionsCharged, uploadBytes, downloadBytes);
    return failed ? cost.withoutStorage() : cost;
  }

  private CostBreakdown charged(ProgramShape shape, int count, long uploadBytes, long downloadBytes) {
    long instruction = program(shape.programBytes());
    long memory = 0;
    long storage = 0;
    List<InstructionDescriptor> list = shape.instructions();
    for (int i = 0; i < count; i++) {
      InstructionDescriptor d = list.get(i);
      instruction = Amount.add(instruction, instruction(d));
      memory = Amount.add(memory, memory(d));
      storage = Amount.add(storage, storage(d, shape.durationUnits()));
    }
    long bandwidth = Amount.add(upload(uploadBytes), download(downloadBytes));
    return new CostBreakdown(Amount.of(instruction), Amount.of(bandwidth), Amount.of(memory), Amount.of(storage));
  }

  // The raw formulas, shared by everything above and by Meter.

  long program(long programBytes) {
    return Amount.add(programBase, Amount.multiply(programPerByte, programBytes));
  }

  @SuppressWarnings("EnumOrdinal") // indexes the flattened per-kind arrays
  long instruction(InstructionDescriptor d) {
    int k = d.kind().ordinal();
    return Amount.add(base[k], Amount.multiply(perByte[k], d.bytesHandled()));
  }

  long memory(InstructionDescriptor d) {
    return Amount.multiply(Amount.multiply(memoryPerByteTimeUnit, d.bytesHandled()), d.kind().timeUnits());
  }

  long storage(InstructionDescriptor d, long durationUnits) {
    return Amount.multiply(Amount.multiply(storagePerByteDurationUnit, d.storageBytesAdded()), durationUnits);
  }

  long upload(long bytes) {
    return Amount.multiply(uploadPerByte, bytes);
  }

  long download(long bytes) {
    return Amount.multiply(downloadPerByte, bytes);
  }
}
