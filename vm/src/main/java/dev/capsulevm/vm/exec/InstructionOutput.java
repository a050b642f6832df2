package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import java.util.Objects;

/**
 * What the executor emits after instruction {@code index}: its output, the output's canonical bytes, its
 * transcript leaf, what it was charged for (the renter needs the charged output bound to recompute the
 * cost) and the program's cost so far.
 *
 * <p>Whoever sends the output charges it with {@link dev.capsulevm.pricing.Meter#chargeOutput} and
 * {@link #transcriptLeaf()} when, and only when, it sends it, so the receipt's transcript holds exactly
 * the outputs the renter received.
 *
 * @param encodedOutput the output's canonical bytes ({@link dev.capsulevm.program.OutputEncoding}), as
 *     sent and as the transcript entry holds them; owned by this value, never modified
 * @param transcriptLeaf the RFC 9162 leaf of the output's transcript entry
 *     ({@link dev.capsulevm.program.Transcript#leaf})
 */
@SuppressWarnings("ArrayRecordComponent") // never compared: an event handed to the consumer, not a value
public record InstructionOutput(int index, Output output, byte[] encodedOutput, Hash transcriptLeaf,
    InstructionDescriptor charged, Amount costSoFar) {
  public InstructionOutput {
    Objects.requireNonNull(output, "output");
    Objects.requireNonNull(encodedOutput, "encodedOutput");
    Objects.requireNonNull(transcriptLeaf, "transcriptLeaf");
    Objects.requireNonNull(charged, "charged");
    Objects.requireNonNull(costSoFar, "costSoFar");
  }
}
