package dev.capsulevm.pricing;

import java.util.Objects;

/**
 * What the cost of one instruction depends on, known before it runs: its kind, the bytes of input it
 * carries, an upper bound on the serialized size of the response message it sends back, and the bytes
 * of storage it adds if the program succeeds.
 */
public record InstructionDescriptor(
    InstructionKind kind, long inputBytes, long maxOutputBytes, long storageBytesAdded) {
  public InstructionDescriptor {
    Objects.requireNonNull(kind, "kind");
    if (inputBytes < 0 || maxOutputBytes < 0 || storageBytesAdded < 0) {
      throw new IllegalArgumentException("byte counts are never negative: " + inputBytes + ", "
          + maxOutputBytes + ", " + storageBytesAdded);
    }
  }

  /** The bytes the instruction handles and holds in memory: its input plus its reserved output. */
  public long bytesHandled() {
    return Amount.add(inputBytes, maxOutputBytes);
  }
}
