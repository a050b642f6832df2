package dev.capsulevm.pricing;

import java.util.List;
import java.util.Objects;

/**
 * A program as the cost model sees it: the serialized size of the program, the total serialized size
 * of the request messages the renter sends on the program's stream, how many duration units any added
 * storage is paid for, and its instructions in order.
 */
public record ProgramShape(
    long programBytes, long requestBytes, long durationUnits, List<InstructionDescriptor> instructions) {
  public ProgramShape {
    if (programBytes < 0 || requestBytes < 0 || durationUnits < 0) {
      throw new IllegalArgumentException("sizes and durations are never negative: " + programBytes + ", "
          + requestBytes + ", " + durationUnits);
    }
    instructions = List.copyOf(Objects.requireNonNull(instructions, "instructions"));
  }
}
