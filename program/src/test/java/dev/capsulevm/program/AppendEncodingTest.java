package dev.capsulevm.program;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class AppendEncodingTest {
  private final CapsuleFixture f = new CapsuleFixture("append-encoding");
  private final RecordWithBody r1 = f.record(List.of(f.id()), "one", 3);
  private final RecordWithBody r2 = f.record(r1.hash(), "two");

  @Test
  void roundTrips() throws Exception {
    RecordWithBody unsigned = new RecordWithBody(Record.of(r2.record().header(), null), r2.payloads());
    byte[] encoded = AppendEncoding.encode(List.of(r1, unsigned));
    List<RecordWithBody> parsed = AppendEncoding.parse(encoded);
    assertEquals(2, parsed.size());
    assertEquals(r1.record(), parsed.get(0).record());
    assertEquals(unsigned.record(), parsed.get(1).record());
    for (int i = 0; i < 3; i++) {
      assertArrayEquals(r1.payloads().get(i), parsed.get(0).payloads().get(i));
    }
    assertEquals(2, AppendEncoding.declaredCountBound(encoded));
  }

  @Test
  void refusesEveryTruncationAndTrailingBytes() {
    byte[] encoded = AppendEncoding.encode(List.of(r1, r2));
    for (int length = 0; length < encoded.length; length++) {
      byte[] truncated = Arrays.copyOf(encoded, length);
      assertThrows(VerificationException.class, () -> AppendEncoding.parse(truncated), "length " + length);
    }
    byte[] trailing = Arrays.copyOf(encoded, encoded.length + 1);
    assertThrows(VerificationException.class, () -> AppendEncoding.parse(trailing));
  }

  @Test
  void refusesHostileCountsWithoutAllocating() {
    byte[] huge = ByteBuffer.allocate(8).putInt(-1).putInt(-1).array();
    assertThrows(VerificationException.class, () -> AppendEncoding.parse(huge));
    assertEquals(0, AppendEncoding.declaredCountBound(huge));
    assertThrows(VerificationException.class, () -> AppendEncoding.parse(new byte[4]), "zero records");
  }

  @Test
  void refusesABadSignedFlag() {
    byte[] encoded = AppendEncoding.encode(List.of(r1));
    int flagAt = 4 + 4 + r1.record().header().encodedLength();
    encoded[flagAt] = 2;
    assertThrows(VerificationException.class, () -> AppendEncoding.parse(encoded));
  }
}
