package dev.capsulevm.program;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.program.ProgramException.Reason;
import dev.capsulevm.proofs.Hash;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgramDecoderTest {
  private static final Hash CAPSULE = Hash.copyOf(filled(Hash.LENGTH, (byte) 7));
  private static final DataRef H0 = new DataRef(0, 32);
  private static final DataRef H1 = new DataRef(32, 32);

  private final ProgramDecoder decoder = new ProgramDecoder(TestLimits.standard());

  static byte[] filled(int n, byte b) {
    byte[] a = new byte[n];
    Arrays.fill(a, b);
    return a;
  }

  static Program everyInstruction() {
    return new Program(CAPSULE, List.of(
        new Instruction.CreateCapsule(new DataRef(64, 100)),
        new Instruction.AppendRecord(new DataRef(164, 1000)),
        new Instruction.ReadSubRecord(new RecordSelector.ByHash(H1), 3, H0),
        new Instruction.ReadSubRecord(new RecordSelector.ByHeight(12), 0, H0),
        Instruction.Prove.record(H0, new RecordSelector.ByHash(H1)),
        new Instruction.Prove(H0, new RecordSelector.ByHeight(2), 5),
        new Instruction.HasRecord(H1),
        new Instruction.ReadByHash(H1),
        new Instruction.Heads(),
        new Instruction.Metadata()), 1164);
  }

  @Test
  void roundTripsEveryInstruction() throws ProgramException {
    Program program = everyInstruction();
    byte[] encoded = ProgramEncoding.encode(program);
    Program decoded = decoder.decode(encoded);
    assertEquals(program, decoded);
    assertTrue(Arrays.equals(encoded, ProgramEncoding.encode(decoded)));
    assertFalse(decoded.isReadOnly());
    assertTrue(decoded.needsSnapshot());
  }

  @Test
  void roundTripsAReadOnlyProgramWithoutCapsule() throws ProgramException {
    Program program = new Program(null, List.of(new Instruction.HasRecord(H0), new Instruction.ReadByHash(H0)), 32);
    Program decoded = decoder.decode(ProgramEncoding.encode(program));
    assertEquals(program, decoded);
    assertTrue(decoded.isReadOnly());
    assertFalse(decoded.needsSnapshot());
  }

  @Test
  void instructionsMapToKindsAndSayWhetherTheyWriteOrReadASnapshot() {
    List<Instruction> all = everyInstruction().instructions();
    assertEquals(List.of(InstructionKind.CREATE_CAPSULE, InstructionKind.APPEND_RECORD,
        InstructionKind.READ_SUB_RECORD, InstructionKind.READ_SUB_RECORD, InstructionKind.PROVE,
        InstructionKind.PROVE, InstructionKind.HAS_RECORD, InstructionKind.READ_BY_HASH, InstructionKind.HEADS,
        InstructionKind.METADATA),
        all.stream().map(Instruction::kind).toList());
    assertEquals(List.of(true, true, false, false, false, false, false, false, false, false),
        all.stream().map(Instruction::writes).toList());
    assertEquals(List.of(false, true, true, true, true, true, false, false, true, true),
        all.stream().map(Instruction::needsSnapshot).toList());
  }

  @Test
  void lowestOffsetReferencedShrinksAsInstructionsFinish() {
    Program program = new Program(null, List.of(
        new Instruction.HasRecord(H0), new Instruction.ReadByHash(H1), new Instruction.HasRecord(H1)), 100);
    assertEquals(0, program.lowestOffsetReferencedFrom(0));
    assertEquals(32, program.lowestOffsetReferencedFrom(1));
    assertEquals(32, program.lowestOffsetReferencedFrom(2));
    assertEquals(100, program.lowestOffsetReferencedFrom(3));
  }

  /** A hand-built encoding, so refusals can be provoked that the encoder would never write. */
  private static final class Raw {
    private final ByteBuffer buf = ByteBuffer.allocate(4096);

    Raw header(long dataLength, int count) {
      buf.put((byte) 1).put((byte) 1).put(CAPSULE.toByteArray()).putLong(dataLength).putInt(count);
      return this;
    }

    Raw op(int code) {
      buf.put((byte) code);
      return this;
    }

    Raw ref(long offset, long length) {
      buf.putLong(offset).putLong(length);
      return this;
    }

    Raw u8(int b) {
      buf.put((byte) b);
      return this;
    }

    Raw i64(long v) {
      buf.putLong(v);
      return this;
    }

    byte[] bytes() {
      return Arrays.copyOf(buf.array(), buf.position());
    }
  }

  private ProgramException refused(Reason reason, byte[] encoded) {
    ProgramException e = assertThrows(ProgramException.class, () -> decoder.decode(encoded));
    assertEquals(reason, e.reason(), e.getMessage());
    return e;
  }

  @Test
  void refusesAnUnknownOpcodeNamingItAndTheInstruction() {
    ProgramException e = refused(Reason.UNKNOWN_OPCODE, new Raw().header(0, 2).op(7).op(99).bytes());
    assertEquals(1, e.instructionIndex());
    assertTrue(e.getMessage().contains("instruction 1") && e.getMessage().contains("99"), e.getMessage());
    refused(Reason.UNKNOWN_OPCODE, new Raw().header(0, 1).op(0).bytes());
  }

  @Test
  void refusesAReferenceOutsideTheDeclaredData() {
    ProgramException e = refused(Reason.REFERENCE_OUT_OF_BOUNDS,
        new Raw().header(40, 2).op(5).ref(0, 32).op(5).ref(9, 32).bytes());
    assertEquals(1, e.instructionIndex());
    assertTrue(e.getMessage().contains("(9, 32)") && e.getMessage().contains("40"), e.getMessage());
    refused(Reason.REFERENCE_OUT_OF_BOUNDS, new Raw().header(40, 1).op(2).ref(-1, 4).bytes());
    refused(Reason.REFERENCE_OUT_OF_BOUNDS, new Raw().header(40, 1).op(2).ref(8, Long.MAX_VALUE).bytes());
  }

  @Test
  void refusesAHashReferenceOfTheWrongLength() {
    ProgramException e = refused(Reason.BAD_HASH_REFERENCE, new Raw().header(40, 1).op(6).ref(0, 31).bytes());
    assertTrue(e.getMessage().contains("31"), e.getMessage());
  }

  @Test
  void refusesTooManyInstructions() {
    ProgramException e = refused(Reason.TOO_MANY_INSTRUCTIONS, new Raw().header(0, 257).bytes());
    assertTrue(e.getMessage().contains("257") && e.getMessage().contains("256"), e.getMessage());
  }

  @Test
  void refusesAProgramOverItsLimits() {
    ProgramException data = refused(Reason.OVER_LIMITS, new Raw().header(65_536, 0).bytes());
    assertTrue(data.getMessage().contains("65536"), data.getMessage());
    ProgramException record = refused(Reason.OVER_LIMITS, new Raw().header(10_000, 1).op(2).ref(0, 8_193).bytes());
    assertEquals(0, record.instructionIndex());
    assertTrue(record.getMessage().contains("8193") && record.getMessage().contains("maxRecordBytes"));
    refused(Reason.OVER_LIMITS, new byte[65_537]);
  }

  @Test
  void refusesACapsuleInstructionInAProgramWithoutCapsule() {
    byte[] encoded = ProgramEncoding.encode(new Program(null, List.of(new Instruction.HasRecord(H0)), 32));
    encoded[encoded.length - 17] = 7; // the opcode: Heads
    byte[] heads = Arrays.copyOf(encoded, encoded.length - 16);
    ProgramException e = refused(Reason.MISSING_CAPSULE, heads);
    assertEquals(0, e.instructionIndex());
  }

  @Test
  void refusesMetadataInAProgramWithoutCapsule() {
    byte[] encoded = ProgramEncoding.encode(new Program(null, List.of(new Instruction.HasRecord(H0)), 32));
    encoded[encoded.length - 17] = 8; // the opcode: Metadata, which has no fields
    ProgramException e = refused(Reason.MISSING_CAPSULE, Arrays.copyOf(encoded, encoded.length - 16));
    assertEquals(0, e.instructionIndex());
    assertTrue(e.getMessage().contains("METADATA"), e.getMessage());
  }

  @Test
  void theProgramEncodingIsItsHeaderThenEachInstructionsOwnBytes() {
    Program program = everyInstruction();
    byte[] encoded = ProgramEncoding.encode(program);
    ByteBuffer expected = ByteBuffer.allocate(encoded.length);
    expected.put((byte) 1).put((byte) 1).put(CAPSULE.toByteArray()).putLong(program.dataLength())
        .putInt(program.instructions().size());
    for (Instruction instruction : program.instructions()) {
      expected.put(ProgramEncoding.encodeInstruction(instruction));
    }
    assertArrayEquals(expected.array(), encoded);
    assertArrayEquals(new byte[] {8}, ProgramEncoding.encodeInstruction(new Instruction.Metadata()));
    assertArrayEquals(new Raw().op(5).ref(32, 32).bytes(),
        ProgramEncoding.encodeInstruction(new Instruction.HasRecord(H1)));
  }

  @Test
  void oneInstructionDecodesFromItsOwnBytesAlone() throws ProgramException {
    for (Instruction instruction : everyInstruction().instructions()) {
      assertEquals(instruction, ProgramDecoder.decodeInstruction(ProgramEncoding.encodeInstruction(instruction)));
    }
    // No program around it: a reference may lie anywhere, and no record limit applies.
    assertEquals(new Instruction.AppendRecord(new DataRef(1L << 40, 1L << 30)),
        ProgramDecoder.decodeInstruction(new Raw().op(2).ref(1L << 40, 1L << 30).bytes()));
  }

  @Test
  void oneInstructionsBytesAreRefusedWhenNotExactlyOneInstruction() {
    for (byte[] bad : new byte[][] {
        new byte[0],
        {8, 0}, // trailing
        {7, 8}, // two instructions
        {99}, // unknown opcode
        Arrays.copyOf(new Raw().op(5).ref(0, 32).bytes(), 16), // truncated
        new Raw().op(5).ref(0, 31).bytes(), // not a hash reference
        new Raw().op(2).ref(-1, 4).bytes(), // negative
        new Raw().op(2).ref(8, Long.MAX_VALUE).bytes()}) { // past 2^63
      assertThrows(ProgramException.class, () -> ProgramDecoder.decodeInstruction(bad), Arrays.toString(bad));
    }
  }

  @Test
  void refusesMalformedEncodings() {
    refused(Reason.MALFORMED, new byte[0]);
    refused(Reason.MALFORMED, new byte[] {2, 0});
    refused(Reason.MALFORMED, new byte[] {1, 2});
    // 32 zero bytes as the capsule: a receipt could not tell it from "no capsule"
    byte[] zeroCapsule = new byte[1 + 1 + 32 + 8 + 4];
    zeroCapsule[0] = 1;
    zeroCapsule[1] = 1;
    refused(Reason.MALFORMED, zeroCapsule);
    refused(Reason.MALFORMED, new Raw().header(0, 1).bytes());
    refused(Reason.MALFORMED, new Raw().header(0, 0).u8(0).bytes());
    refused(Reason.MALFORMED, new Raw().header(-1, 0).bytes());
    refused(Reason.MALFORMED, new Raw().header(64, 1).op(4).ref(0, 32).u8(2).bytes());
    refused(Reason.MALFORMED, new Raw().header(64, 1).op(4).ref(0, 32).u8(1).i64(0).i64(-1).bytes());
    refused(Reason.MALFORMED, new Raw().header(64, 1).op(4).ref(0, 32).u8(1).i64(3).i64(-2).bytes());
    refused(Reason.MALFORMED, new Raw().header(64, 1).op(3).u8(1).i64(3).i64(-1).ref(0, 32).bytes());
  }
}
