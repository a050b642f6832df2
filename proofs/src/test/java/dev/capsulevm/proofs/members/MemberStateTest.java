package dev.capsulevm.proofs.members;

import static dev.capsulevm.proofs.members.MemberFixture.CREATOR;
import static dev.capsulevm.proofs.members.MemberFixture.key;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.merkle.Merkle;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class MemberStateTest {
  private static final PublicKey A = key(2);
  private static final PublicKey B = key(3);
  private static final PublicKey C = key(4);

  @Test
  void genesis_creatorHoldsEverything_writersTheirBits() {
    MemberState state = MemberState.genesis(CREATOR, Map.of(A, 0x03, B, 0x13));
    assertEquals(0x33, state.bitsOf(CREATOR));
    assertEquals(0x03, state.bitsOf(A));
    assertEquals(0x13, state.bitsOf(B));
    assertEquals(0, state.bitsOf(C));
    assertEquals(RetentionPolicy.NONE, state.retention());
    assertEquals(3, state.members().size());
  }

  @Test
  void genesis_fromMetadata_usesItsCreatorAndWriters() {
    Metadata metadata =
        Metadata.create(CREATOR, 1, SigningPolicy.EVERY_RECORD, 16, 1024, Map.of(A, 0x03), "m");
    assertEquals(MemberState.genesis(CREATOR, Map.of(A, 0x03)), MemberState.genesis(metadata));
  }

  @Test
  void genesis_refusesWhatVersion2MetadataRefuses() {
    assertThrows(IllegalArgumentException.class, () -> MemberState.genesis(CREATOR, Map.of(CREATOR, 0x03)));
    assertThrows(IllegalArgumentException.class, () -> MemberState.genesis(CREATOR, Map.of(A, 0)));
    assertThrows(IllegalArgumentException.class, () -> MemberState.genesis(CREATOR, Map.of(A, 0x23)));
    assertThrows(IllegalArgumentException.class, () -> MemberState.genesis(CREATOR, Map.of(A, 0x04)));
  }

  @Test
  void with_changesOnlyWhatItSays_andZeroRemoves() {
    MemberState genesis = MemberState.genesis(CREATOR, Map.of(A, 0x03));
    MemberState added = genesis.withMember(B, 0x01);
    assertEquals(0x01, added.bitsOf(B));
    assertEquals(0, genesis.bitsOf(B), "states are immutable");
    assertEquals(genesis, added.withMember(B, 0));
    assertSame(genesis, genesis.withMember(A, 0x03));
    MemberState kept = genesis.withRetention(RetentionPolicy.keepHeights(10));
    assertEquals(RetentionPolicy.keepHeights(10), kept.retention());
    assertNotEquals(genesis.root(), kept.root(), "the root commits to retention");
  }

  @Test
  void root_isTheDocumentedHash() {
    MemberState state =
        MemberState.genesis(CREATOR, Map.of(A, 0x03, B, 0x13)).withRetention(RetentionPolicy.keepMillis(86_400_000));
    List<byte[]> entries = new ArrayList<>();
    for (Map.Entry<PublicKey, Integer> e : new TreeMap<>(Map.of(CREATOR, 0x33, A, 0x03, B, 0x13)).entrySet()) {
      ByteArrayOutputStream entry = new ByteArrayOutputStream();
      entry.write(0x40);
      entry.writeBytes(e.getKey().toByteArray());
      entry.write(e.getValue());
      entries.add(entry.toByteArray());
    }
    Hash entriesRoot = Merkle.root(entries);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(0x41);
    body.write(2);
    body.writeBytes(new byte[] {0, 0, 0, 0, 0x05, 0x26, 0x5c, 0x00});
    body.writeBytes(entriesRoot.toByteArray());
    assertEquals(entriesRoot, state.entriesRoot());
    assertEquals(Sha256.untagged(body.toByteArray()), state.root());
  }

  @Test
  void entryProof_verifiesForEveryMember_inStatesOfManySizes() throws VerificationException {
    MemberState state = MemberState.genesis(CREATOR, Map.of());
    for (int n = 2; n <= 12; n++) {
      state = state.withMember(key(10 + n), n % 2 == 0 ? 0x03 : 0x01);
      Hash root = state.root();
      for (Map.Entry<PublicKey, Integer> member : state.members().entrySet()) {
        MemberEntryProof proof = state.entryProofOrNull(member.getKey());
        assertNotNull(proof);
        assertEquals(member.getValue(), proof.verify(member.getKey(), root));
        assertEquals(proof, MemberEntryProof.parse(proof.encode()));
      }
    }
  }

  @Test
  void entryProof_absentMember_isNull() {
    assertNull(MemberState.genesis(CREATOR, Map.of(A, 3)).entryProofOrNull(B));
  }

  @Test
  void entryProof_failsForAnotherKeyBitsRootOrRetention() {
    MemberState state = MemberState.genesis(CREATOR, Map.of(A, 0x03, B, 0x01));
    MemberEntryProof proof = state.entryProofOrNull(A);
    assertNotNull(proof);
    assertBroken(() -> proof.verify(B, state.root()));
    assertBroken(() -> proof.verify(A, state.withMember(C, 1).root()));
    assertBroken(() -> withBits(proof, 0x13).verify(A, state.root()));
    assertBroken(
        () -> new MemberEntryProof(proof.bits(), RetentionPolicy.keepHeights(5), proof.index(), proof.count(), proof.path())
            .verify(A, state.root()));
    assertBroken(
        () -> new MemberEntryProof(proof.bits(), proof.retention(), proof.index(), proof.count(), List.of())
            .verify(A, state.root()));
    assertBroken(
        () -> new MemberEntryProof(proof.bits(), proof.retention(), (proof.index() + 1) % proof.count(), proof.count(), proof.path())
            .verify(A, state.root()));
  }

  @Test
  void entryProof_bytesAreTheDocumentedLayout() {
    MemberState state = MemberState.genesis(CREATOR, Map.of(A, 0x03, B, 0x01)).withRetention(RetentionPolicy.keepHeights(7));
    MemberEntryProof proof = state.entryProofOrNull(B);
    assertNotNull(proof);
    byte[] bytes = proof.encode();
    assertEquals(19 + 32 * proof.path().size(), bytes.length);
    assertEquals(0x01, bytes[0]);
    assertEquals(1, bytes[1]);
    assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, 0, 7}, Arrays.copyOfRange(bytes, 2, 10));
    assertArrayEquals(new byte[] {0, 0, 0, (byte) proof.index()}, Arrays.copyOfRange(bytes, 10, 14));
    assertArrayEquals(new byte[] {0, 0, 0, 3}, Arrays.copyOfRange(bytes, 14, 18));
    assertEquals(proof.path().size(), bytes[18]);
  }

  @Test
  void entryProof_malformedForms_refused() {
    MemberState state = MemberState.genesis(CREATOR, Map.of(A, 0x03, B, 0x01));
    MemberEntryProof proof = state.entryProofOrNull(A);
    assertNotNull(proof);
    byte[] good = proof.encode();
    assertMalformed(new byte[0], "ends inside bits");
    assertMalformed(Arrays.copyOf(good, 18), "ends inside path length");
    assertMalformed(Arrays.copyOf(good, good.length - 1), "ends inside path hash");
    assertMalformed(Arrays.copyOf(good, good.length + 1), "trailing bytes");
    assertMalformed(patch(good, 0, 0x00), "are 0 or outside 0x33");
    assertMalformed(patch(good, 0, 0x04), "are 0 or outside 0x33");
    assertMalformed(patch(good, 1, 0x03), "unknown retention mode 3");
    assertMalformed(patch(good, 9, 0x01), "retention mode none takes value 0");
    assertMalformed(patch(good, 13, 0x03), "index 3 is not below its entry count 3");
    byte[] zeroCount = good.clone();
    zeroCount[10 + 3] = 0;
    zeroCount[14 + 3] = 0;
    assertMalformed(zeroCount, "index 0 is not below its entry count 0");
    assertMalformed(patch(good, 18, 3), "ends inside path hash");
  }

  private static MemberEntryProof withBits(MemberEntryProof proof, int bits) {
    return new MemberEntryProof(bits, proof.retention(), proof.index(), proof.count(), proof.path());
  }

  private static byte[] patch(byte[] bytes, int at, int value) {
    byte[] copy = bytes.clone();
    copy[at] = (byte) value;
    return copy;
  }

  private static void assertMalformed(byte[] bytes, String reason) {
    VerificationException e = assertThrows(VerificationException.class, () -> MemberEntryProof.parse(bytes));
    assertEquals(Failure.MALFORMED_ENCODING, e.failure());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  private static void assertBroken(org.junit.jupiter.api.function.Executable verify) {
    VerificationException e = assertThrows(VerificationException.class, verify);
    assertEquals(Failure.BROKEN_PATH, e.failure());
  }
}
