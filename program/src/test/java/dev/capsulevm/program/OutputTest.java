package dev.capsulevm.program;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
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

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
