package dev.capsulevm.renter;

import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.members.MemberEntryProof;
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

  /**
   * The payload of a {@code ReadSubRecord} output.
   *
   * @throws SubRecordDroppedException when the host answered, verifiably, that the payload was dropped
   *     under the capsule's retention policy ({@link #isDropped()})
   */
  public byte[] payload() {
    if (output instanceof Output.SubRecord s) {
      return s.payload();
    }
    if (output instanceof Output.SubRecordDropped) {
      throw new SubRecordDroppedException(dropped());
    }
    throw new IllegalStateException("output " + index + " is a " + instruction.kind() + ", not a sub-record read");
  }

  /** Whether this is a {@code ReadSubRecord} answer that the payload was dropped under the retention policy. */
  public boolean isDropped() {
    return output instanceof Output.SubRecordDropped;
  }

  /**
   * What a verified "dropped" answer says: the record, the leaf hash, the witness and the policy.
   *
   * @throws IllegalStateException when this output is not one ({@link #isDropped()})
   */
  public DroppedSubRecord dropped() {
    if (!(output instanceof Output.SubRecordDropped d) || provenHeaderOrNull == null
        || !(instruction instanceof Instruction.ReadSubRecord read)) {
      throw new IllegalStateException("output " + index + " is not a dropped sub-record");
    }
    MemberEntryProof entry = Objects.requireNonNull(d.witnessProof().writerEntryOrNull(),
        "a verified witness carries its writer's entry");
    return new DroppedSubRecord(provenHeaderOrNull, read.index(), d.leafHash(), d.witnessProof().target(),
        entry.retention());
  }
}
