package dev.capsulevm.renter;

import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.program.Program;
import java.util.ArrayList;
import java.util.List;

/** A program ready to send: its model, canonical encoding, program data and the renter's expectations. */
public final class PreparedProgram {
  private final Program program;
  private final byte[] encoded;
  private final byte[] data;
  private final List<ProgramBuilder.Step> steps;

  PreparedProgram(Program program, byte[] encoded, byte[] data, List<ProgramBuilder.Step> steps) {
    this.program = program;
    this.encoded = encoded;
    this.data = data;
    this.steps = List.copyOf(steps);
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

  /** Per instruction, what the estimate charges it for (the renter's own output bounds). */
  public List<InstructionDescriptor> estimateDescriptors() {
    List<InstructionDescriptor> out = new ArrayList<>();
    steps.forEach(s -> out.add(s.estimateDescriptor()));
    return out;
  }

  public boolean isReadOnly() {
    return program.isReadOnly();
  }
}
