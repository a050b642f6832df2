package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.Amount;
import java.util.Objects;

/** What the executor emits after instruction {@code index}: its output and the program's cost so far. */
public record InstructionOutput(int index, Output output, Amount costSoFar) {
  public InstructionOutput {
    Objects.requireNonNull(output, "output");
    Objects.requireNonNull(costSoFar, "costSoFar");
  }
}
