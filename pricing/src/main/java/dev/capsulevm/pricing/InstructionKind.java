package dev.capsulevm.pricing;

import dev.capsulevm.proofs.VerificationException;

/**
 * The kinds of instruction a program can contain, each with its wire code and the number of time units
 * it holds its memory for; both values are part of the protocol and never change.
 */
public enum InstructionKind {
  CREATE_CAPSULE(1, 1),
  APPEND_RECORD(2, 2),
  READ_SUB_RECORD(3, 1),
  PROVE(4, 3),
  HAS_RECORD(5, 1),
  READ_BY_HASH(6, 1),
  HEADS(7, 1),
  /** Returns the signed metadata of the program's capsule. */
  METADATA(8, 1);

  private static final InstructionKind[] VALUES = values();

  private final int code;
  private final long timeUnits;

  InstructionKind(int code, long timeUnits) {
    this.code = code;
    this.timeUnits = timeUnits;
  }

  /** The one-byte wire code. */
  public int code() {
    return code;
  }

  /** How many time units an instruction of this kind holds its memory for. */
  public long timeUnits() {
    return timeUnits;
  }

  static InstructionKind fromCode(int code) throws VerificationException {
    for (InstructionKind kind : VALUES) {
      if (kind.code == code) {
        return kind;
      }
    }
    throw new VerificationException(
        VerificationException.Failure.MALFORMED_ENCODING, "unknown instruction kind code " + code);
  }
}
