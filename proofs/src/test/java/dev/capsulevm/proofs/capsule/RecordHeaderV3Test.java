package dev.capsulevm.proofs.capsule;

import static dev.capsulevm.proofs.members.KeystoreFixture.epoch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.EpochKey;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Record header version 3: version 2, and a data record's epoch key and enc after the member root. */
class RecordHeaderV3Test {
  private static final Hash CAPSULE = name("capsule");
  private static final Hash ROOT = name("root");
  private static final Hash MEMBER_ROOT = name("members");
  private static final Hash AUTH = name("auth");
  private static final PublicKey WRITER = TestCapsule.WRITER.publicKey();
  private static final EpochKey EPOCH = epoch("e");
  private static final byte[] ENC = filled(0xec);

  private static Hash name(String s) {
    return Sha256.hash(Domain.RECORD, s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  private static byte[] filled(int b) {
    byte[] out = new byte[32];
    Arrays.fill(out, (byte) b);
    return out;
  }

  private static RecordHeader data() {
    return RecordHeader.createV3(CAPSULE, 1, 5, WRITER, RecordKind.DATA, 2, ROOT, MEMBER_ROOT, EPOCH, ENC,
        List.of(AUTH), List.of(CAPSULE), List.of());
  }

  private static RecordHeader v2Twin(RecordKind kind) {
    return RecordHeader.createV2(CAPSULE, 1, 5, WRITER, kind, 2, ROOT, MEMBER_ROOT, List.of(AUTH), List.of(CAPSULE),
        List.of());
  }

  @Test
  void dataHeader_isVersion2sWithEpochAndEncAfterTheMemberRoot() throws VerificationException {
    RecordHeader header = data();
    byte[] bytes = header.encoded();
    byte[] v2 = v2Twin(RecordKind.DATA).encoded();
    assertEquals(v2.length + 64, bytes.length);
    assertEquals(3, bytes[0]);
    assertArrayEquals(Arrays.copyOfRange(v2, 1, 150), Arrays.copyOfRange(bytes, 1, 150));
    assertArrayEquals(EPOCH.toByteArray(), Arrays.copyOfRange(bytes, 150, 182));
    assertArrayEquals(ENC, Arrays.copyOfRange(bytes, 182, 214));
    assertEquals(1, bytes[214], "the auth parent count moves to offset 214");
    assertArrayEquals(Arrays.copyOfRange(v2, 150, v2.length), Arrays.copyOfRange(bytes, 214, bytes.length));
    RecordHeader parsed = RecordHeader.parse(bytes);
    assertEquals(header, parsed);
    assertEquals(EPOCH, parsed.epochKeyOrNull());
    assertArrayEquals(ENC, parsed.encOrNull());
    assertEquals(RecordHeader.VERSION_3, parsed.version());
  }

  @Test
  void membershipHeader_carriesNeitherEpochNorEnc() throws VerificationException {
    RecordHeader header = RecordHeader.createV3(CAPSULE, 1, 5, WRITER, RecordKind.MEMBERSHIP, 2, ROOT, MEMBER_ROOT,
        null, null, List.of(AUTH), List.of(CAPSULE), List.of());
    byte[] bytes = header.encoded();
    byte[] v2 = v2Twin(RecordKind.MEMBERSHIP).encoded();
    assertEquals(v2.length, bytes.length);
    assertEquals(3, bytes[0]);
    assertArrayEquals(Arrays.copyOfRange(v2, 1, v2.length), Arrays.copyOfRange(bytes, 1, bytes.length));
    RecordHeader parsed = RecordHeader.parse(bytes);
    assertEquals(header, parsed);
    assertNull(parsed.epochKeyOrNull());
    assertNull(parsed.encOrNull());
    assertNull(v2Twin(RecordKind.DATA).epochKeyOrNull());
  }

  @Test
  void createV3_refusesEpochFieldsThatDoNotSuitTheKind() {
    assertThrows(IllegalArgumentException.class, () -> RecordHeader.createV3(CAPSULE, 1, 5, WRITER, RecordKind.DATA, 2,
        ROOT, MEMBER_ROOT, null, null, List.of(), List.of(CAPSULE), List.of()));
    assertThrows(IllegalArgumentException.class, () -> RecordHeader.createV3(CAPSULE, 1, 5, WRITER, RecordKind.DATA, 2,
        ROOT, MEMBER_ROOT, EPOCH, null, List.of(), List.of(CAPSULE), List.of()));
    assertThrows(IllegalArgumentException.class, () -> RecordHeader.createV3(CAPSULE, 1, 5, WRITER,
        RecordKind.MEMBERSHIP, 2, ROOT, MEMBER_ROOT, EPOCH, ENC, List.of(), List.of(CAPSULE), List.of()));
    assertThrows(IllegalArgumentException.class, () -> RecordHeader.createV3(CAPSULE, 1, 5, WRITER, RecordKind.DATA, 2,
        ROOT, MEMBER_ROOT, EPOCH, new byte[31], List.of(), List.of(CAPSULE), List.of()));
    byte[] enc = ENC.clone();
    RecordHeader header = RecordHeader.createV3(CAPSULE, 1, 5, WRITER, RecordKind.DATA, 2, ROOT, MEMBER_ROOT, EPOCH,
        enc, List.of(), List.of(CAPSULE), List.of());
    enc[0] = 0;
    header.encOrNull()[1] = 0;
    assertArrayEquals(ENC, header.encOrNull());
  }

  @Test
  void parse_refusesTruncationInsideTheNewFields() {
    byte[] bytes = data().encoded();
    for (int[] cut : new int[][] {{160, 0}, {200, 1}}) {
      VerificationException e =
          assertThrows(VerificationException.class, () -> RecordHeader.parse(Arrays.copyOf(bytes, cut[0])));
      assertEquals(Failure.MALFORMED_ENCODING, e.failure());
      assertTrue(e.getMessage().contains(cut[1] == 0 ? "epoch key" : "enc"), e.getMessage());
    }
    byte[] version4 = bytes.clone();
    version4[0] = 4;
    VerificationException e = assertThrows(VerificationException.class, () -> RecordHeader.parse(version4));
    assertTrue(e.getMessage().contains("unknown record header version 4"), e.getMessage());
  }
}
