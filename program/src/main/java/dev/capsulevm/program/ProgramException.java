package dev.capsulevm.program;

import java.util.Objects;

/**
 * A program, or its data, was refused. {@link #reason()} says which rule was broken; the message names
 * the instruction index (where there is one) and the offending value.
 */
public final class ProgramException extends Exception {
  /** The rule that was broken. */
  public enum Reason {
    /** Bytes that are not the canonical program encoding (truncated, trailing, a bad flag). */
    MALFORMED,
    /** An opcode that is not an instruction kind. */
    UNKNOWN_OPCODE,
    /** A data reference that reaches past the declared program data length. */
    REFERENCE_OUT_OF_BOUNDS,
    /** A hash reference whose length is not that of a hash. */
    BAD_HASH_REFERENCE,
    /** More instructions than the host's limit. */
    TOO_MANY_INSTRUCTIONS,
    /** A program, or an input of one of its instructions, larger than the host's limits. */
    OVER_LIMITS,
    /** An instruction that reads a capsule in a program that names no capsule. */
    MISSING_CAPSULE,
    /** More program data buffered than the configured limit allows. */
    BUFFER_LIMIT,
    /** Program data that did not arrive in time, or more or less of it than declared. */
    DATA_UNAVAILABLE
  }

  private final Reason reason;
  private final int instructionIndex;

  public ProgramException(Reason reason, String message) {
    this(reason, -1, message);
  }

  public ProgramException(Reason reason, int instructionIndex, String message) {
    super(instructionIndex >= 0 ? "instruction " + instructionIndex + ": " + message : message);
    this.reason = Objects.requireNonNull(reason, "reason");
    this.instructionIndex = instructionIndex;
  }

  public Reason reason() {
    return reason;
  }

  /** The index of the offending instruction, or -1 when the refusal is not about one instruction. */
  public int instructionIndex() {
    return instructionIndex;
  }
}
