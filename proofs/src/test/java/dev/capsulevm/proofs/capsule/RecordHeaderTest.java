package dev.capsulevm.proofs.capsule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecordHeaderTest {
  private final TestCapsule capsule = new TestCapsule(SigningPolicy.EVERY_RECORD);
  private final RecordHeader four = capsule.chain(capsule.id(), 4, "h").record().header();

  private static Failure parseFailure(byte[] encoded) {
    return assertThrows(VerificationException.class, () -> RecordHeader.parse(encoded)).failure();
  }

  @Test
  void parse_roundTrip_sameHash() throws Exception {
    RecordHeader parsed = RecordHeader.parse(four.encoded());
    assertEquals(four.hash(), parsed.hash());
    assertEquals(4, parsed.height());
    assertEquals(1, parsed.skipPointers().size());
  }

  @Test
  void parse_structuralBreaks_namedFailures() {
    byte[] encoded = four.encoded();
    int skipCountAt = 118 + 32;
    byte[] noSkips = Arrays.copyOf(encoded, skipCountAt + 1);
    noSkips[skipCountAt] = 0;
    assertEquals(Failure.BAD_SKIP_POINTER, parseFailure(noSkips));

    byte[] heightZero = encoded.clone();
    Arrays.fill(heightZero, 33, 41, (byte) 0);
    assertEquals(Failure.BAD_HEIGHT, parseFailure(heightZero));

    byte[] noParents = encoded.clone();
    noParents[117] = 0;
    assertEquals(Failure.MALFORMED_ENCODING, parseFailure(Arrays.copyOf(noParents, 118)));

    byte[] version = encoded.clone();
    version[0] = 2;
    assertEquals(Failure.MALFORMED_ENCODING, parseFailure(version));

    assertEquals(Failure.MALFORMED_ENCODING, parseFailure(Arrays.copyOf(encoded, encoded.length + 1)));
    assertEquals(Failure.MALFORMED_ENCODING, parseFailure(Arrays.copyOf(encoded, encoded.length - 1)));
  }

  @Test
  void create_parentsOutOfOrderOrRepeated_refused() {
    Hash a = capsule.records.get(0).hash();
    Hash b = capsule.records.get(1).hash();
    Hash c = capsule.records.get(2).hash();
    Hash high = a.compareTo(b) > 0 ? a : b;
    Hash low = a.compareTo(b) > 0 ? b : a;
    assertThrows(IllegalArgumentException.class, () -> RecordHeader.create(
        capsule.id(), 5, 0, TestCapsule.WRITER.publicKey(), 0, four.subRecordRoot(), List.of(c, high, low), List.of()));
    assertThrows(IllegalArgumentException.class, () -> RecordHeader.create(
        capsule.id(), 5, 0, TestCapsule.WRITER.publicKey(), 0, four.subRecordRoot(), List.of(c, c), List.of()));
  }

  @Test
  void skipPointers_counts_followTheRule() {
    long[][] cases = {{1, 0}, {2, 0}, {3, 0}, {4, 1}, {6, 1}, {8, 2}, {12, 2}, {16, 3}, {24, 3}, {1024, 9}};
    for (long[] c : cases) {
      assertEquals(c[1], SkipPointers.count(c[0]), "height " + c[0]);
    }
    assertEquals(8, SkipPointers.targetHeight(16, 2));
    assertEquals(14, SkipPointers.targetHeight(16, 0));
  }
}
