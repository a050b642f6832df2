package dev.capsulevm.program;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class OutputTest {
  private final CapsuleFixture f = new CapsuleFixture("output");
  private final RecordWithBody record = f.record(List.of(f.id()), "sub", 2);
  private final SubRecordProof proof =
      new SubRecordProof(new RecordProof(List.of(record.record().header())), record.tree().inclusionProof(1));

  @Test
  void subRecordsAreEqualByTheirPayloadsBytes() throws Exception {
    Output.SubRecord a = new Output.SubRecord(bytes("payload"), proof);
    Output.SubRecord b = new Output.SubRecord(bytes("payload"), proof);
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertNotEquals(a, new Output.SubRecord(bytes("other"), proof));
    assertEquals(a, OutputEncoding.decode(
        new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), 1, new DataRef(0, 32)),
        OutputEncoding.encode(a)));
  }

  /**
   * An inclusion index or tree size above 2^63 - 1 (negative as a Java long) is malformed input, refused
   * as such: it used to escape as the IllegalArgumentException of InclusionProof's constructor.
   */
  @Test
  void inclusionNumbersBeyondSignedRangeAreRefusedAsMalformed() {
    byte[] encoded = OutputEncoding.encode(new Output.SubRecord(bytes("payload"), proof));
    // The inclusion proof ends the output: u64 index, u64 tree size, u32 count, one 32-byte hash.
    int indexAt = encoded.length - (8 + 8 + 4 + 32);
    Instruction read = new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), 1, new DataRef(0, 32));
    Instruction prove = new Instruction.Prove(new DataRef(0, 32), new RecordSelector.ByHeight(1), 1);
    for (int at : new int[] {indexAt, indexAt + 8}) {
      for (long value : new long[] {Long.MIN_VALUE, -1}) {
        byte[] tampered = encoded.clone();
        ByteBuffer.wrap(tampered).putLong(at, value);
        for (Instruction instruction : List.of(read, prove)) {
          byte[] output = instruction == read ? tampered : withoutPayload(tampered);
          assertThrows(VerificationException.class, () -> OutputEncoding.decode(instruction, output),
              instruction.kind() + ", offset " + at + ", value " + value);
        }
      }
    }
  }

  /** A ReadSubRecord output as the Prove output with the same proof: the payload's length and bytes dropped. */
  private static byte[] withoutPayload(byte[] readOutput) {
    int payloadLength = ByteBuffer.wrap(readOutput).getInt(0);
    byte[] out = new byte[readOutput.length - 4 - payloadLength];
    System.arraycopy(readOutput, 4 + payloadLength, out, 0, out.length);
    return out;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
