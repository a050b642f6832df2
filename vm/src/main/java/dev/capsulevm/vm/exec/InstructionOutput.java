package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.program.Output;
import java.util.Objects;

/**
 * What the executor emits after instruction {@code index}: its output, what it was charged for (the
 * renter needs the charged output bound to recompute the cost) and the program's cost so far.
 */
public record InstructionOutput(int index, Output output, InstructionDescriptor charged, Amount costSoFar) {
  public InstructionOutput {
    Objects.requireNonNull(output, "output");
    Objects.requireNonNull(charged, "charged");
    Objects.requireNonNull(costSoFar, "costSoFar");
  }
}
