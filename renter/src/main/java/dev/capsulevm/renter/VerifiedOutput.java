package dev.capsulevm.renter;

import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.capsule.RecordHeader;
import org.jspecify.annotations.Nullable;

/**
 * One instruction's output after the SDK verified it: the parsed {@link Output}, and for reads and
 * proofs the header of the record it proved (null otherwise, or when a {@code HasRecord} /
 * {@code ReadByHash} found nothing). {@code chargedBound} is the output bound the host charged for
 * (checked against the renter's own bound where it can compute one), {@code responseBytes} the
 * serialized size of the response message (checked to be within that bound).
 */
public record VerifiedOutput(
    int index,
    Instruction instruction,
    Output output,
    @Nullable RecordHeader provenHeaderOrNull,
    long chargedBound,
    long costSoFar,
    int responseBytes) {

  /** The payload of a {@code ReadSubRecord} output. */
  public byte[] payload() {
    if (output instanceof Output.SubRecord s) {
      return s.payload();
    }
    throw new IllegalStateException("output " + index + " is a " + instruction.kind() + ", not a sub-record read");
  }
}
