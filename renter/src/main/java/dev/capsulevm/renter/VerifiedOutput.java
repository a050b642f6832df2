package dev.capsulevm.renter;

import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.capsule.RecordHeader;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One instruction's output after the SDK verified it: the parsed {@link Output}, and for reads and
 * proofs the header of the record it proved (null otherwise, or when a {@code HasRecord} /
 * {@code ReadByHash} found nothing). {@code chargedBound} is the output bound the host charged for
 * (checked against the renter's own bounds), {@code responseBytes} the serialized size of the response
 * message (checked to be within that bound), {@link #outputBytes()} the output's canonical bytes as
 * received (what its transcript entry holds).
 */
@SuppressWarnings("ArrayRecordComponent") // the accessor hands out copies; outputs are never compared
public record VerifiedOutput(
    int index,
    Instruction instruction,
    Output output,
    @Nullable RecordHeader provenHeaderOrNull,
    long chargedBound,
    long costSoFar,
    int responseBytes,
    byte[] outputBytes) {

  public VerifiedOutput {
    Objects.requireNonNull(instruction, "instruction");
    Objects.requireNonNull(output, "output");
    outputBytes = outputBytes.clone();
  }

  /** The output's canonical bytes as the host sent them (a copy). */
  @Override
  public byte[] outputBytes() {
    return outputBytes.clone();
  }

  /** The payload of a {@code ReadSubRecord} output. */
  public byte[] payload() {
    if (output instanceof Output.SubRecord s) {
      return s.payload();
    }
    throw new IllegalStateException("output " + index + " is a " + instruction.kind() + ", not a sub-record read");
  }
}
