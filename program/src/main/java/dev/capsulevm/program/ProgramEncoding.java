package dev.capsulevm.program;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * The canonical binary encoding of a program, all integers big-endian:
 *
 * <pre>
 * program     = version:u8(1) capsule dataLength:i64 count:i32 instruction*count
 * capsule     = 0x00 | 0x01 hash[32]
 * instruction = opcode:u8 (the InstructionKind code) fields
 * ref         = offset:i64 length:i64
 * selector    = 0x00 ref (by hash) | 0x01 height:i64
 * CreateCapsule  ref           AppendRecord ref
 * ReadSubRecord  selector index:i64 anchor:ref
 * Prove          anchor:ref selector subRecordIndex:i64 (-1 for the record itself)
 * HasRecord ref  ReadByHash ref  Heads (no fields)  Metadata (no fields)
 * </pre>
 *
 * {@link ProgramDecoder} accepts exactly what {@link #encode(Program)} produces.
 */
public final class ProgramEncoding {
  public static final int VERSION = 1;
  static final int SELECTOR_BY_HASH = 0;
  static final int SELECTOR_BY_HEIGHT = 1;

  private ProgramEncoding() {}

  public static byte[] encode(Program program) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      Hash capsule = program.capsuleIdOrNull();
      if (capsule == null) {
        out.writeByte(0);
      } else {
        out.writeByte(1);
        out.write(capsule.toByteArray());
      }
      out.writeLong(program.dataLength());
      out.writeInt(program.instructions().size());
      for (Instruction instruction : program.instructions()) {
        write(out, instruction);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /**
   * The instruction's own bytes inside the program encoding: its opcode, then its fields. A transcript
   * entry carries exactly these bytes ({@link Transcript}); {@link ProgramDecoder#decodeInstruction}
   * reads them back.
   */
  public static byte[] encodeInstruction(Instruction instruction) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      write(out, instruction);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static void write(DataOutputStream out, Instruction instruction) throws IOException {
    out.writeByte(instruction.kind().code());
    if (instruction instanceof Instruction.CreateCapsule c) {
      ref(out, c.signedMetadata());
    } else if (instruction instanceof Instruction.AppendRecord a) {
      ref(out, a.records());
    } else if (instruction instanceof Instruction.ReadSubRecord r) {
      selector(out, r.record());
      out.writeLong(r.index());
      ref(out, r.anchor());
    } else if (instruction instanceof Instruction.Prove p) {
      ref(out, p.anchor());
      selector(out, p.target());
      out.writeLong(p.subRecordIndexOrNegative());
    } else if (instruction instanceof Instruction.HasRecord h) {
      ref(out, h.hash());
    } else if (instruction instanceof Instruction.ReadByHash r) {
      ref(out, r.hash());
    }
    // Heads and Metadata have no fields.
  }
  /**
   * The id a receipt names: {@code SHA-256(0x34 || program encoding || signed withdrawal)}, distinct for
   * every submission because a withdrawal's nonce is never reused.
   */
  public static Hash programId(byte[] encodedProgram, byte[] signedWithdrawal) {
    byte[] both = Arrays.copyOf(encodedProgram, encodedProgram.length + signedWithdrawal.length);
    System.arraycopy(signedWithdrawal, 0, both, encodedProgram.length, signedWithdrawal.length);
    return Sha256.hash(Domain.PROGRAM_ID, both);
  }

  private static void ref(DataOutputStream out, DataRef ref) throws IOException {
    out.writeLong(ref.offset());
    out.writeLong(ref.length());
  }

  private static void selector(DataOutputStream out, RecordSelector selector) throws IOException {
    if (selector instanceof RecordSelector.ByHash h) {
      out.writeByte(SELECTOR_BY_HASH);
      ref(out, h.hash());
    } else {
      out.writeByte(SELECTOR_BY_HEIGHT);
      out.writeLong(((RecordSelector.ByHeight) selector).height());
    }
  }
}
