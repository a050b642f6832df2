package dev.capsulevm.program;

import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.program.ProgramException.Reason;
import dev.capsulevm.proofs.Hash;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Decodes and validates a program in the {@link ProgramEncoding} before anything runs. Every refusal is
 * a {@link ProgramException} naming the rule, the instruction index and the offending value; no other
 * exception escapes, whatever the bytes.
 */
public final class ProgramDecoder {
  private static final InstructionKind[] BY_CODE = new InstructionKind[256];

  static {
    for (InstructionKind kind : InstructionKind.values()) {
      BY_CODE[kind.code()] = kind;
    }
  }

  private final Limits limits;

  public ProgramDecoder(Limits limits) {
    this.limits = Objects.requireNonNull(limits, "limits");
  }

  /**
   * The program {@code encoded} describes, checked against the limits: its encoding plus its data no
   * larger than {@code maxProgramBytes}, at most {@code maxInstructions} instructions, no written input
   * larger than {@code maxRecordBytes}, every reference inside the declared data, and a capsule named
   * when an instruction reads one.
   */
  public Program decode(byte[] encoded) throws ProgramException {
    Objects.requireNonNull(encoded, "encoded");
    if (encoded.length > limits.maxProgramBytes()) {
      throw new ProgramException(Reason.OVER_LIMITS, "program encoding is " + encoded.length
          + " bytes, maxProgramBytes is " + limits.maxProgramBytes());
    }
    Cursor in = new Cursor(encoded);
    int version = in.u8(-1, "version");
    if (version != ProgramEncoding.VERSION) {
      throw new ProgramException(Reason.MALFORMED, "unknown program encoding version " + version);
    }
    int capsuleFlag = in.u8(-1, "capsule flag");
    Hash capsuleId;
    if (capsuleFlag == 0) {
      capsuleId = null;
    } else if (capsuleFlag == 1) {
      byte[] id = in.bytes(-1, Hash.LENGTH, "capsule id");
      if (Arrays.equals(id, new byte[Hash.LENGTH])) {
        // A receipt states "no capsule" as 32 zero bytes, so no program may name them as its capsule.
        throw new ProgramException(Reason.MALFORMED, "the capsule id is 32 zero bytes, which no capsule has");
      }
      capsuleId = Hash.copyOf(id, 0, Hash.LENGTH);
    } else {
      throw new ProgramException(Reason.MALFORMED, "capsule flag must be 0 or 1, got " + capsuleFlag);
    }
    long dataLength = in.i64(-1, "data length");
    if (dataLength < 0) {
      throw new ProgramException(Reason.MALFORMED, "data length is negative: " + dataLength);
    }
    if (dataLength > limits.maxProgramBytes() - (long) encoded.length) {
      throw new ProgramException(Reason.OVER_LIMITS, "program is " + encoded.length + " bytes of instructions and "
          + dataLength + " bytes of data, maxProgramBytes is " + limits.maxProgramBytes());
    }
    int count = in.i32(-1, "instruction count");
    if (count < 0) {
      throw new ProgramException(Reason.MALFORMED, "instruction count is negative: " + count);
    }
    if (count > limits.maxInstructions()) {
      throw new ProgramException(Reason.TOO_MANY_INSTRUCTIONS,
          "program has " + count + " instructions, maxInstructions is " + limits.maxInstructions());
    }
    List<Instruction> instructions = new ArrayList<>(Math.min(count, in.remaining()));
    for (int i = 0; i < count; i++) {
      Instruction instruction = instruction(in, i, dataLength, limits.maxRecordBytes());
      if (instruction.needsSnapshot() && capsuleId == null) {
        throw new ProgramException(Reason.MISSING_CAPSULE, i,
            instruction.kind() + " reads a capsule, and the program names none");
      }
      instructions.add(instruction);
    }
    if (in.remaining() != 0) {
      throw new ProgramException(Reason.MALFORMED,
          in.remaining() + " trailing bytes after " + count + " instructions");
    }
    return new Program(capsuleId, instructions, dataLength);
  }

  /**
   * One instruction from its own bytes ({@link ProgramEncoding#encodeInstruction}), as a transcript entry
   * carries it: exactly one canonical instruction, with no program around it, so its references are
   * checked only for sign and overflow and no limit applies.
   *
   * @throws ProgramException when the bytes are not exactly one instruction's encoding
   */
  public static Instruction decodeInstruction(byte[] encoded) throws ProgramException {
    Objects.requireNonNull(encoded, "encoded");
    Cursor in = new Cursor(encoded);
    Instruction instruction = instruction(in, -1, Long.MAX_VALUE, Long.MAX_VALUE);
    if (in.remaining() != 0) {
      throw new ProgramException(Reason.MALFORMED, in.remaining() + " trailing bytes after the instruction");
    }
    return instruction;
  }

  private static Instruction instruction(Cursor in, int index, long dataLength, long maxWrittenBytes)
      throws ProgramException {
    int opcode = in.u8(index, "opcode");
    InstructionKind kind = BY_CODE[opcode];
    if (kind == null) {
      throw new ProgramException(Reason.UNKNOWN_OPCODE, index, "unknown opcode " + opcode);
    }
    Instruction instruction;
    switch (kind) {
      case CREATE_CAPSULE ->
          instruction = new Instruction.CreateCapsule(writtenRef(in, index, dataLength, kind, maxWrittenBytes));
      case APPEND_RECORD ->
          instruction = new Instruction.AppendRecord(writtenRef(in, index, dataLength, kind, maxWrittenBytes));
      case READ_SUB_RECORD -> {
        RecordSelector selector = selector(in, index, dataLength);
        long subIndex = in.i64(index, "sub-record index");
        if (subIndex < 0) {
          throw new ProgramException(Reason.MALFORMED, index, "sub-record index is negative: " + subIndex);
        }
        instruction = new Instruction.ReadSubRecord(selector, subIndex, hashRef(in, index, dataLength, "anchor"));
      }
      case PROVE -> {
        DataRef anchor = hashRef(in, index, dataLength, "anchor");
        RecordSelector target = selector(in, index, dataLength);
        long subIndex = in.i64(index, "sub-record index");
        if (subIndex < -1) {
          throw new ProgramException(Reason.MALFORMED, index,
              "sub-record index must be -1 (the record) or not negative, got " + subIndex);
        }
        instruction = new Instruction.Prove(anchor, target, subIndex);
      }
      case HAS_RECORD -> instruction = new Instruction.HasRecord(hashRef(in, index, dataLength, "hash"));
      case READ_BY_HASH -> instruction = new Instruction.ReadByHash(hashRef(in, index, dataLength, "hash"));
      case HEADS -> instruction = new Instruction.Heads();
      case METADATA -> instruction = new Instruction.Metadata();
      default -> throw new ProgramException(Reason.UNKNOWN_OPCODE, index, "unsupported opcode " + opcode);
    }
    return instruction;
  }

  private static DataRef writtenRef(Cursor in, int index, long dataLength, InstructionKind kind, long maxWrittenBytes)
      throws ProgramException {
    DataRef ref = ref(in, index, dataLength, "input");
    if (ref.length() > maxWrittenBytes) {
      throw new ProgramException(Reason.OVER_LIMITS, index, kind + " writes " + ref.length()
          + " bytes, maxRecordBytes is " + maxWrittenBytes);
    }
    return ref;
  }

  private static RecordSelector selector(Cursor in, int index, long dataLength) throws ProgramException {
    int tag = in.u8(index, "selector");
    if (tag == ProgramEncoding.SELECTOR_BY_HASH) {
      return new RecordSelector.ByHash(hashRef(in, index, dataLength, "record hash"));
    }
    if (tag == ProgramEncoding.SELECTOR_BY_HEIGHT) {
      long height = in.i64(index, "height");
      if (height < 1) {
        throw new ProgramException(Reason.MALFORMED, index, "record heights start at 1, got " + height);
      }
      return new RecordSelector.ByHeight(height);
    }
    throw new ProgramException(Reason.MALFORMED, index, "record selector must be 0 or 1, got " + tag);
  }

  private static DataRef hashRef(Cursor in, int index, long dataLength, String what) throws ProgramException {
    DataRef ref = ref(in, index, dataLength, what);
    if (ref.length() != Hash.LENGTH) {
      throw new ProgramException(Reason.BAD_HASH_REFERENCE, index,
          what + " reference is " + ref.length() + " bytes, a hash is " + Hash.LENGTH);
    }
    return ref;
  }

  private static DataRef ref(Cursor in, int index, long dataLength, String what) throws ProgramException {
    long offset = in.i64(index, what + " offset");
    long length = in.i64(index, what + " length");
    if (offset < 0 || length < 0) {
      throw new ProgramException(Reason.REFERENCE_OUT_OF_BOUNDS, index,
          what + " reference (" + offset + ", " + length + ") is negative");
    }
    if (offset > dataLength || length > dataLength - offset) {
      throw new ProgramException(Reason.REFERENCE_OUT_OF_BOUNDS, index, what + " reference (" + offset + ", "
          + length + ") reaches past the " + dataLength + " bytes of program data");
    }
    return new DataRef(offset, length);
  }

  /** Reads big-endian fields, refusing truncation as MALFORMED. */
  private static final class Cursor {
    private final byte[] bytes;
    private int position;

    Cursor(byte[] bytes) {
      this.bytes = bytes;
    }

    int remaining() {
      return bytes.length - position;
    }

    private void need(int index, int n, String what) throws ProgramException {
      if (remaining() < n) {
        throw new ProgramException(Reason.MALFORMED, index, "truncated " + what + ": needs " + n
            + " bytes at byte " + position + ", " + remaining() + " left");
      }
    }

    int u8(int index, String what) throws ProgramException {
      need(index, 1, what);
      return bytes[position++] & 0xff;
    }

    int i32(int index, String what) throws ProgramException {
      need(index, 4, what);
      int v = 0;
      for (int i = 0; i < 4; i++) {
        v = (v << 8) | (bytes[position++] & 0xff);
      }
      return v;
    }

    long i64(int index, String what) throws ProgramException {
      need(index, 8, what);
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v = (v << 8) | (bytes[position++] & 0xff);
      }
      return v;
    }

    byte[] bytes(int index, int n, String what) throws ProgramException {
      need(index, n, what);
      byte[] out = new byte[n];
      System.arraycopy(bytes, position, out, 0, n);
      position += n;
      return out;
    }
  }
}
