package dev.capsulevm.pricing;

import java.util.Objects;

/** The limits a host enforces on programs, records and accounts, published in its price table. */
public record Limits(
    int maxProgramBytes,
    int maxInstructions,
    int maxRecordBytes,
    int maxSubRecordsPerRecord,
    int maxConcurrentPrograms,
    Amount maxBalance) {

  public Limits {
    positive("maxProgramBytes", maxProgramBytes);
    positive("maxInstructions", maxInstructions);
    positive("maxRecordBytes", maxRecordBytes);
    positive("maxSubRecordsPerRecord", maxSubRecordsPerRecord);
    positive("maxConcurrentPrograms", maxConcurrentPrograms);
    Objects.requireNonNull(maxBalance, "maxBalance");
  }

  private static void positive(String field, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + " must be positive, got " + value);
    }
  }

  /**
   * Refuses a program whose shape breaks a limit: its size, its instruction count, or a record larger
   * than {@link #maxRecordBytes()} given to an instruction that writes one.
   */
  public void check(ProgramShape shape) throws PricingException {
    if (shape.programBytes() > maxProgramBytes) {
      throw new PricingException(PricingException.Reason.LIMIT_EXCEEDED,
          "program is " + shape.programBytes() + " bytes, maxProgramBytes is " + maxProgramBytes);
    }
    if (shape.instructions().size() > maxInstructions) {
      throw new PricingException(PricingException.Reason.LIMIT_EXCEEDED,
          "program has " + shape.instructions().size() + " instructions, maxInstructions is " + maxInstructions);
    }
    for (int i = 0; i < shape.instructions().size(); i++) {
      InstructionDescriptor d = shape.instructions().get(i);
      boolean writesRecord = d.kind() == InstructionKind.APPEND_RECORD || d.kind() == InstructionKind.CREATE_CAPSULE;
      if (writesRecord && d.inputBytes() > maxRecordBytes) {
        throw new PricingException(PricingException.Reason.LIMIT_EXCEEDED,
            "instruction " + i + " (" + d.kind() + ") writes " + d.inputBytes()
                + " bytes, maxRecordBytes is " + maxRecordBytes);
      }
    }
  }
}
