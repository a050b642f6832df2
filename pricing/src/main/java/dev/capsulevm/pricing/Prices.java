package dev.capsulevm.pricing;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * Every price a host charges, in units: program start, each instruction kind, bandwidth, memory and
 * storage. Used both for a host's price table and for the most a renter will pay ({@link MaxPrices}).
 */
public record Prices(
    Amount programBase,
    Amount programPerByte,
    Map<InstructionKind, InstructionPrice> instructions,
    Amount uploadPerByte,
    Amount downloadPerByte,
    Amount memoryPerByteTimeUnit,
    Amount storagePerByteDurationUnit) {

  public Prices {
    Objects.requireNonNull(programBase, "programBase");
    Objects.requireNonNull(programPerByte, "programPerByte");
    Objects.requireNonNull(instructions, "instructions");
    Objects.requireNonNull(uploadPerByte, "uploadPerByte");
    Objects.requireNonNull(downloadPerByte, "downloadPerByte");
    Objects.requireNonNull(memoryPerByteTimeUnit, "memoryPerByteTimeUnit");
    Objects.requireNonNull(storagePerByteDurationUnit, "storagePerByteDurationUnit");
    EnumMap<InstructionKind, InstructionPrice> copy = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      InstructionPrice price = instructions.get(kind);
      if (price == null) {
        throw new IllegalArgumentException("no price for instruction kind " + kind);
      }
      copy.put(kind, price);
    }
    if (instructions.size() != copy.size()) {
      throw new IllegalArgumentException("unexpected instruction kinds in " + instructions.keySet());
    }
    instructions = Collections.unmodifiableMap(copy);
  }

  /** The price of instructions of {@code kind}. */
  public InstructionPrice instruction(InstructionKind kind) {
    // The constructor priced every kind.
    return Objects.requireNonNull(instructions.get(kind));
  }
}
