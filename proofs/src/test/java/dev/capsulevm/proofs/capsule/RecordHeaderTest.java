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

  private static final Hash MEMBER_ROOT = dev.capsulevm.proofs.merkle.Merkle.leafHash(new byte[] {7});

  private static List<Hash> ascending(Hash... hashes) {
    return java.util.stream.Stream.of(hashes).sorted().toList();
  }

  /** A version-2 header at height 4 after {@code four}'s parent fields, with two auth parents. */
  private RecordHeader v2(RecordKind kind, List<Hash> authParents) {
    return RecordHeader.createV2(capsule.id(), 4, 9, TestCapsule.WRITER.publicKey(), kind, 1, four.subRecordRoot(),
        MEMBER_ROOT, authParents, four.parents(), four.skipPointers());
  }

  @Test
  void v2_roundTrip_everyField() throws Exception {
    List<Hash> auth = ascending(capsule.records.get(0).hash(), capsule.records.get(1).hash());
    RecordHeader header = v2(RecordKind.MEMBERSHIP, auth);
    assertEquals(2, header.encoded()[0]);
    assertEquals(151 + 32 * 2 + 1 + 32 + 1 + 32, header.encodedLength());
    RecordHeader parsed = RecordHeader.parse(header.encoded());
    assertEquals(header, parsed);
    assertEquals(RecordHeader.VERSION_2, parsed.version());
    assertEquals(RecordKind.MEMBERSHIP, parsed.kind());
    assertEquals(MEMBER_ROOT, parsed.memberRootOrNull());
    assertEquals(auth, parsed.authParents());
    assertEquals(four.parents(), parsed.parents());
    assertEquals(four.skipPointers(), parsed.skipPointers());
    assertEquals(1, parsed.subRecordCount());

    RecordHeader data = RecordHeader.parse(v2(RecordKind.DATA, List.of()).encoded());
    assertEquals(RecordKind.DATA, data.kind());
    assertEquals(List.of(), data.authParents());
    assertEquals(0, data.encoded()[81], "kind byte");
    assertEquals(0, data.encoded()[150], "auth parent count");

    assertEquals(RecordHeader.VERSION, four.version());
    assertEquals(RecordKind.DATA, four.kind());
    assertEquals(null, four.memberRootOrNull());
    assertEquals(List.of(), four.authParents());
  }

  @Test
  void v2_malformed_namedFailures() {
    Hash a = capsule.records.get(0).hash();
    Hash b = capsule.records.get(1).hash();
    byte[] encoded = v2(RecordKind.DATA, ascending(a, b)).encoded();

    for (int kind : new int[] {2, 0x80, 0xff}) {
      byte[] badKind = encoded.clone();
      badKind[81] = (byte) kind;
      assertEquals(Failure.MALFORMED_ENCODING, parseFailure(badKind), "kind " + kind);
    }
    byte[] swapped = encoded.clone();
    System.arraycopy(encoded, 151 + 32, swapped, 151, 32);
    System.arraycopy(encoded, 151, swapped, 151 + 32, 32);
    assertEquals(Failure.BAD_AUTH_PARENTS, parseFailure(swapped));
    byte[] repeated = encoded.clone();
    System.arraycopy(encoded, 151, repeated, 151 + 32, 32);
    assertEquals(Failure.BAD_AUTH_PARENTS, parseFailure(repeated));
    byte[] countTooHigh = encoded.clone();
    countTooHigh[150] = 3;
    assertEquals(Failure.MALFORMED_ENCODING, parseFailure(countTooHigh));
    byte[] version3 = encoded.clone();
    version3[0] = 3;
    assertEquals(Failure.MALFORMED_ENCODING, parseFailure(version3));
    assertEquals(Failure.MALFORMED_ENCODING, parseFailure(Arrays.copyOf(encoded, encoded.length + 1)));
    for (int length = 0; length < encoded.length; length++) {
      byte[] shorter = Arrays.copyOf(encoded, length);
      assertThrows(VerificationException.class, () -> RecordHeader.parse(shorter), "length " + length);
    }
    // A version-1 header relabelled as version 2 (and the reverse) does not parse.
    byte[] v1AsV2 = four.encoded();
    v1AsV2[0] = 2;
    assertThrows(VerificationException.class, () -> RecordHeader.parse(v1AsV2));
    byte[] v2AsV1 = encoded.clone();
    v2AsV1[0] = 1;
    assertThrows(VerificationException.class, () -> RecordHeader.parse(v2AsV1));
  }

  @Test
  void createV2_authParentsOutOfOrderOrTooMany_refused() {
    Hash a = capsule.records.get(0).hash();
    Hash b = capsule.records.get(1).hash();
    List<Hash> sorted = ascending(a, b);
    assertThrows(IllegalArgumentException.class, () -> v2(RecordKind.DATA, List.of(sorted.get(1), sorted.get(0))));
    assertThrows(IllegalArgumentException.class, () -> v2(RecordKind.DATA, List.of(a, a)));
    List<Hash> many = new java.util.ArrayList<>();
    for (int i = 0; i < 256; i++) {
      many.add(dev.capsulevm.proofs.merkle.Merkle.leafHash(new byte[] {(byte) i, 1}));
    }
    List<Hash> tooMany = many.stream().sorted().toList();
    assertThrows(IllegalArgumentException.class, () -> v2(RecordKind.DATA, tooMany));
    RecordHeader most = v2(RecordKind.DATA, tooMany.subList(0, 255));
    assertEquals(255, most.authParents().size());
  }
}
