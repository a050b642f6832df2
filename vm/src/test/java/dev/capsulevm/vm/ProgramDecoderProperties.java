package dev.capsulevm.vm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
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
