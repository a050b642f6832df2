package dev.capsulevm.pricing;

import java.util.Objects;

/** A cost split into its four parts: instruction (including program start), bandwidth, memory and storage. */
public record CostBreakdown(Amount instruction, Amount bandwidth, Amount memory, Amount storage) {
  /** All four parts zero. */
  public static final CostBreakdown ZERO = new CostBreakdown(Amount.ZERO, Amount.ZERO, Amount.ZERO, Amount.ZERO);

  public CostBreakdown {
    Objects.requireNonNull(instruction, "instruction");
    Objects.requireNonNull(bandwidth, "bandwidth");
    Objects.requireNonNull(memory, "memory");
    Objects.requireNonNull(storage, "storage");
  }

  /** The sum of the four parts. */
  public Amount total() {
    return instruction.plus(bandwidth).plus(memory).plus(storage);
  }

  /** Part by part sum. */
  public CostBreakdown plus(CostBreakdown other) {
    return new CostBreakdown(instruction.plus(other.instruction), bandwidth.plus(other.bandwidth),
        memory.plus(other.memory), storage.plus(other.storage));
  }

  /** The same cost with the storage part refunded, as charged for a failed program. */
  public CostBreakdown withoutStorage() {
    return new CostBreakdown(instruction, bandwidth, memory, Amount.ZERO);
  }
}
