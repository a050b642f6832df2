package dev.capsulevm.program;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.proofs.Hash;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class ProgramDecoderProperties {
  private final ProgramDecoder decoder = new ProgramDecoder(TestLimits.standard());

  @Property(tries = 2000)
  void randomBytesOnlyEverRaiseProgramException(@ForAll @Size(max = 300) byte[] bytes) {
    decodeOrRefuse(bytes);
  }

  /** Mutations of a valid program reach deeper into the decoder than random bytes do. */
  @Property(tries = 2000)
  void mutatedProgramsOnlyEverRaiseProgramException(
      @ForAll @IntRange(min = 0, max = 10_000) int position, @ForAll byte value,
      @ForAll @IntRange(min = 0, max = 10_000) int cut) {
    byte[] valid = ProgramEncoding.encode(ProgramDecoderTest.everyInstruction());
    byte[] mutated = valid.clone();
    mutated[position % mutated.length] = value;
    decodeOrRefuse(mutated);
    decodeOrRefuse(Arrays.copyOf(mutated, cut % (mutated.length + 1)));
  }

  private static final long DATA = 4096;

  @Property(tries = 1000)
  void everyInstructionsOwnBytesDecodeBackToIt(@ForAll("instructions") Instruction instruction)
      throws ProgramException {
    assertEquals(instruction, ProgramDecoder.decodeInstruction(ProgramEncoding.encodeInstruction(instruction)));
  }

  @Property(tries = 2000)
  void randomInstructionBytesOnlyEverRaiseProgramException(@ForAll @Size(max = 60) byte[] bytes) {
    try {
      Instruction instruction = ProgramDecoder.decodeInstruction(bytes);
      assertArrayEquals(bytes, ProgramEncoding.encodeInstruction(instruction), "one encoding per instruction");
    } catch (ProgramException expected) {
      // the only allowed failure
    }
  }

  @Provide
  Arbitrary<Instruction> instructions() {
    return instruction();
  }

  @Property(tries = 500)
  void everyValidProgramRoundTrips(@ForAll("programs") Program program) throws ProgramException {
    byte[] encoded = ProgramEncoding.encode(program);
    assertEquals(program, decoder.decode(encoded));
  }

  @Provide
  Arbitrary<Program> programs() {
    // Any id but 32 zero bytes, which no capsule has (the decoder refuses it).
    Arbitrary<Hash> capsule = Arbitraries.bytes().array(byte[].class).ofSize(Hash.LENGTH)
        .filter(b -> !Arrays.equals(b, new byte[Hash.LENGTH])).map(Hash::copyOf);
    Arbitrary<List<Instruction>> instructions = instruction().list().ofMaxSize(40);
    return Combinators.combine(capsule, instructions).as((id, list) -> new Program(id, list, DATA));
  }

  private static Arbitrary<DataRef> anyRef(long maxLength) {
    return Arbitraries.longs().between(0, maxLength).flatMap(length ->
        Arbitraries.longs().between(0, DATA - length).map(offset -> new DataRef(offset, length)));
  }

  private static Arbitrary<DataRef> hashRef() {
    return Arbitraries.longs().between(0, DATA - Hash.LENGTH).map(offset -> new DataRef(offset, Hash.LENGTH));
  }

  private static Arbitrary<RecordSelector> selector() {
    return Arbitraries.oneOf(
        hashRef().map(RecordSelector.ByHash::new),
        Arbitraries.longs().between(1, Long.MAX_VALUE).map(RecordSelector.ByHeight::new));
  }

  private static Arbitrary<Instruction> instruction() {
    Arbitrary<Long> index = Arbitraries.longs().between(0, Long.MAX_VALUE);
    return Arbitraries.oneOf(
        anyRef(4096).map(Instruction.CreateCapsule::new),
        anyRef(4096).map(Instruction.AppendRecord::new),
        Combinators.combine(selector(), index, hashRef()).as(Instruction.ReadSubRecord::new),
        Combinators.combine(hashRef(), selector(), Arbitraries.longs().between(-1, Long.MAX_VALUE))
            .as(Instruction.Prove::new),
        hashRef().map(Instruction.HasRecord::new),
        hashRef().map(Instruction.ReadByHash::new),
        Arbitraries.just(new Instruction.Heads()),
        Arbitraries.just(new Instruction.Metadata()));
  }

  private void decodeOrRefuse(byte[] bytes) {
    try {
      Program program = decoder.decode(bytes);
      assertEquals(program, decodeAgain(ProgramEncoding.encode(program)));
    } catch (ProgramException expected) {
      // the only allowed failure
    }
  }

  private Program decodeAgain(byte[] bytes) {
    try {
      return decoder.decode(bytes);
    } catch (ProgramException e) {
      throw new AssertionError("a decoded program's encoding was refused: " + e.getMessage(), e);
    }
  }
}
