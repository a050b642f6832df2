package dev.capsulevm.host.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The record stream beside a turn: cut anywhere, parsed back whole; malformed entries refused. */
class RecordStreamTest {
  private static final CapsuleFixture CAPSULE = new CapsuleFixture("stream");

  @Test
  void recordsCutAtRandomPointsParseBackInOrder() throws Exception {
    List<RecordWithBody> records = Replicas.chain(CAPSULE, CAPSULE.id(), 20, "s", 3);
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (RecordWithBody r : records) {
      all.writeBytes(RecordStream.entry(r));
    }
    byte[] stream = all.toByteArray();
    Random random = new Random(4);
    for (int round = 0; round < 50; round++) {
      RecordStream.Decoder decoder = new RecordStream.Decoder(1 << 20);
      List<RecordWithBody> out = new ArrayList<>();
      int at = 0;
      while (at < stream.length) {
        int n = Math.min(stream.length - at, 1 + random.nextInt(round % 2 == 0 ? 7 : 300));
        out.addAll(decoder.feed(ByteString.copyFrom(stream, at, n)));
        at += n;
      }
      assertTrue(decoder.atBoundary());
      assertEquals(records.size(), out.size());
      for (int i = 0; i < records.size(); i++) {
        assertEquals(records.get(i).hash(), out.get(i).hash());
        assertEquals(records.get(i).payloads().size(), out.get(i).payloads().size());
      }
    }
  }

  @Test
  void aCutOffRecordIsNotABoundary() throws Exception {
    byte[] entry = RecordStream.entry(CAPSULE.record(CAPSULE.id(), "cut"));
    RecordStream.Decoder decoder = new RecordStream.Decoder(1 << 20);
    assertEquals(List.of(), decoder.feed(ByteString.copyFrom(entry, 0, entry.length - 1)));
    assertFalse(decoder.atBoundary());
  }

  @Test
  void anOversizedLengthIsRefusedBeforeAnyBytesAreHeld() {
    byte[] huge = ByteBuffer.allocate(4).putInt(Integer.MAX_VALUE).array();
    RecordStream.Decoder decoder = new RecordStream.Decoder(1 << 20);
    VerificationException e = assertThrows(VerificationException.class, () -> decoder.feed(ByteString.copyFrom(huge)));
    assertTrue(e.getMessage().contains("at most"), e.getMessage());
  }

  @Test
  void anEntryThatIsNotOneRecordIsRefused() {
    byte[] garbage = {0, 0, 0, 5, 1, 2, 3, 4, 5};
    assertThrows(VerificationException.class,
        () -> new RecordStream.Decoder(1 << 20).feed(ByteString.copyFrom(garbage)));
    byte[] two = dev.capsulevm.program.AppendEncoding.encode(List.of(CAPSULE.record(CAPSULE.id(), "x"),
        CAPSULE.record(CAPSULE.id(), "y")));
    byte[] framed = ByteBuffer.allocate(4 + two.length).putInt(two.length).put(two).array();
    VerificationException e = assertThrows(VerificationException.class,
        () -> new RecordStream.Decoder(1 << 20).feed(ByteString.copyFrom(framed)));
    assertTrue(e.getMessage().contains("not 1"), e.getMessage());
  }
}
