package dev.capsulevm.renter;

import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Program;
import dev.capsulevm.proofs.Hash;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** A program ready to send: its model, canonical encoding, program data and the renter's expectations. */
public final class PreparedProgram {
  private final Program program;
  private final byte[] encoded;
  private final byte[] data;
  private final List<ProgramBuilder.Step> steps;
  private final boolean writeReceiptSealable;

  PreparedProgram(Program program, byte[] encoded, byte[] data, List<ProgramBuilder.Step> steps) {
    this(program, encoded, data, List.copyOf(steps), false);
  }

  private PreparedProgram(Program program, byte[] encoded, byte[] data, List<ProgramBuilder.Step> steps,
      boolean writeReceiptSealable) {
    this.program = program;
    this.encoded = encoded;
    this.data = data;
    this.steps = steps;
    this.writeReceiptSealable = writeReceiptSealable;
  }

  /**
   * This program (an append) with its writer's leave to have the receipt sealed when a payment session
   * pays for it ({@link RenterOptions#sealedAppends()}): a later signed receipt will vouch for its records.
   */
  PreparedProgram withSealableReceipt() {
    return new PreparedProgram(program, encoded, data, steps, true);
  }

  /** Whether the writer lets this write's receipt be sealed ({@link #withSealableReceipt}). */
  boolean writeReceiptSealable() {
    return writeReceiptSealable;
  }

  public Program program() {
    return program;
  }

  /** The program's canonical encoding (docs/PROTOCOL.md "Programs"). */
  public byte[] encoded() {
    return encoded.clone();
  }

  int encodedLength() {
    return encoded.length;
  }

  byte[] encodedUnsafe() {
    return encoded;
  }

  byte[] dataUnsafe() {
    return data;
  }

  public long dataLength() {
    return data.length;
  }

  List<ProgramBuilder.Step> steps() {
    return steps;
  }

  /** The bytes each reference of instruction {@code index} points at, in the order its encoding lists them. */
  List<byte[]> inputs(int index) {
    List<byte[]> out = new ArrayList<>();
    for (DataRef ref : steps.get(index).instruction().refs()) {
      out.add(Arrays.copyOfRange(data, (int) ref.offset(), (int) ref.end()));
    }
    return out;
  }

  /** Per instruction, what the estimate charges it for (the renter's expected output bounds). */
  public List<InstructionDescriptor> estimateDescriptors() {
    List<InstructionDescriptor> out = new ArrayList<>();
    steps.forEach(s -> out.add(s.estimateDescriptor()));
    return out;
  }

  /** Per instruction, what the retry budget pays for (the ceiling output bounds under {@code limits}). */
  List<InstructionDescriptor> ceilingDescriptors(Limits limits) {
    List<InstructionDescriptor> out = new ArrayList<>();
    steps.forEach(s -> out.add(s.ceilingDescriptor(limits)));
    return out;
  }

  /**
   * Whether an honest host may have charged more than the estimate allowed by instruction {@code index}
   * (every instruction for -1): some instruction up to it has an expected bound below its ceiling.
   */
  boolean mayExceedEstimate(int index, Limits limits) {
    int last = index < 0 || index >= steps.size() ? steps.size() - 1 : index;
    for (int i = 0; i <= last; i++) {
      ProgramBuilder.Step step = steps.get(i);
      if (step.bounds().expected() < step.ceiling(limits)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The heads the program leaves once committed, as the renter computed them: those its last append
   * expects; null when the program writes nothing, or writes what the renter cannot predict heads for
   * (an append without expected heads, or a capsule created and nothing appended).
   */
  @Nullable List<Hash> statedHeadsOrNull() {
    List<Hash> heads = null;
    for (ProgramBuilder.Step step : steps) {
      if (step.instruction() instanceof Instruction.AppendRecord) {
        heads = step.expectedHeadsOrNull();
        if (heads == null) {
          return null;
        }
      }
    }
    return heads;
  }

  public boolean isReadOnly() {
    return program.isReadOnly();
  }
}
