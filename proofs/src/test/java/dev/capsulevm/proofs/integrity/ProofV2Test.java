package dev.capsulevm.proofs.integrity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.MemberEntryProof;
import dev.capsulevm.proofs.merkle.Merkle;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ProofV2Test {
  private final V2Capsule capsule = new V2Capsule(SigningPolicy.EVERY_RECORD);
  private RecordWithBody first;
  private RecordWithBody grant;
  private RecordWithBody head;
  private ProofGenerator generator;

  @BeforeEach
  void build() throws Exception {
    first = capsule.appendOne(capsule.data(TestCapsule.WRITER, List.of(capsule.id()), "first"));
    grant = capsule.appendOne(capsule.change(TestCapsule.CREATOR, List.of(first.hash()),
        new MemberChange.SetMember(TestCapsule.STRANGER.publicKey(), Permissions.ADD)));
    RecordWithBody parent = grant;
    for (int i = 0; i < 6; i++) {
      parent = capsule.appendOne(capsule.data(
          i % 2 == 0 ? TestCapsule.STRANGER : TestCapsule.WRITER, List.of(parent.hash()), "r" + i));
    }
    head = parent;
    generator = new ProofGenerator(capsule.source, capsule.memberStates());
  }

  private Failure failureOf(Hash target, RecordProof proof) {
    return assertThrows(VerificationException.class,
        () -> new ProofVerifier(null).verifyRecord(head.hash(), target, proof)).failure();
  }

  @Test
  void proofOfV2Record_carriesAndChecksTheWriterEntry() throws Exception {
    for (RecordWithBody target : List.of(first, grant, head)) {
      RecordProof proof = generator.recordProof(head.hash(), target.hash());
      assertNotNull(proof.writerEntryOrNull());
      RecordHeader proven = new ProofVerifier(null).verifyRecord(head.hash(), target.hash(), proof);
      assertEquals(target.hash(), proven.hash());
      List<byte[]> headers = proof.headers().stream().map(RecordHeader::encoded).toList();
      RecordProof parsed = RecordProof.parse(headers, proof.writerEntryOrNull().encode());
      assertEquals(proof, parsed);
      assertEquals(proof.encodedLength(),
          headers.stream().mapToLong(h -> h.length).sum() + proof.writerEntryOrNull().encode().length);
      new ProofVerifier(null).verifyRecord(head.hash(), target.hash(), parsed);
    }
    assertEquals(Permissions.READ | Permissions.ADD | 0x30,
        generator.recordProof(head.hash(), grant.hash()).writerEntryOrNull().bits(), "the creator's entry");
  }

  @Test
  void missingEntry_refused() {
    RecordProof proof = generator.recordProof(head.hash(), first.hash());
    assertEquals(Failure.BAD_MEMBER_ROOT, failureOf(first.hash(), new RecordProof(proof.headers())));
    List<byte[]> headers = proof.headers().stream().map(RecordHeader::encoded).toList();
    assertThrows(VerificationException.class, () -> new ProofVerifier(null).verifyRecord(
        head.hash(), first.hash(), RecordProof.parse(headers)));
    assertThrows(IllegalStateException.class,
        () -> new ProofGenerator(capsule.source).recordProof(head.hash(), first.hash()));
  }

  @Test
  void tamperedBits_refused() {
    RecordProof proof = generator.recordProof(head.hash(), first.hash());
    MemberEntryProof entry = proof.writerEntryOrNull();
    for (int bits : new int[] {Permissions.ADD, Permissions.READ | Permissions.ADD | Permissions.ADMIN, 0x33}) {
      MemberEntryProof forged = new MemberEntryProof(bits, entry.retention(), entry.index(), entry.count(), entry.path());
      assertEquals(Failure.BROKEN_PATH, failureOf(first.hash(), new RecordProof(proof.headers(), forged)));
    }
  }

  @Test
  void wrongPath_refused() {
    RecordProof proof = generator.recordProof(head.hash(), first.hash());
    MemberEntryProof entry = proof.writerEntryOrNull();
    List<Hash> path = new ArrayList<>(entry.path());
    path.set(0, Merkle.leafHash(new byte[] {1}));
    MemberEntryProof wrongHash = new MemberEntryProof(entry.bits(), entry.retention(), entry.index(), entry.count(), path);
    assertEquals(Failure.BROKEN_PATH, failureOf(first.hash(), new RecordProof(proof.headers(), wrongHash)));
    MemberEntryProof wrongIndex = new MemberEntryProof(
        entry.bits(), entry.retention(), (entry.index() + 1) % entry.count(), entry.count(), entry.path());
    assertEquals(Failure.BROKEN_PATH, failureOf(first.hash(), new RecordProof(proof.headers(), wrongIndex)));
    MemberEntryProof shortPath = new MemberEntryProof(
        entry.bits(), entry.retention(), entry.index(), entry.count(), entry.path().subList(1, entry.path().size()));
    assertEquals(Failure.BROKEN_PATH, failureOf(first.hash(), new RecordProof(proof.headers(), shortPath)));
    // Another member's genuine entry does not prove this writer's.
    MemberEntryProof readers = capsule.membership().genesis().entryProofOrNull(TestCapsule.READER.publicKey());
    assertEquals(Failure.BROKEN_PATH, failureOf(first.hash(), new RecordProof(proof.headers(), readers)));
  }

  @Test
  void entryWithoutTheRight_refused() throws Exception {
    // A data record by a member without add, never accepted by a host, still fails its proof.
    RecordWithBody byReader = capsule.data(TestCapsule.READER, List.of(head.hash()), "reader");
    capsule.hold(List.of(byReader));
    RecordProof proof = generator.recordProof(byReader.hash(), byReader.hash());
    assertEquals(Permissions.READ, proof.writerEntryOrNull().bits());
    assertEquals(Failure.WRITER_NOT_ALLOWED, assertThrows(VerificationException.class,
        () -> new ProofVerifier(null).verifyRecord(byReader.hash(), byReader.hash(), proof)).failure());
  }

  @Test
  void v1Proof_carriesNoEntry() throws Exception {
    TestCapsule old = new TestCapsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody tip = old.chain(old.id(), 4, "v1");
    RecordProof proof = new ProofGenerator(old.source, capsule.memberStates()).recordProof(tip.hash(),
        old.records.get(0).hash());
    assertNull(proof.writerEntryOrNull());
    new ProofVerifier(null).verifyRecord(tip.hash(), old.records.get(0).hash(), proof);
    MemberEntryProof someEntry = generator.recordProof(head.hash(), first.hash()).writerEntryOrNull();
    assertThrows(IllegalArgumentException.class, () -> new RecordProof(proof.headers(), someEntry));
    List<byte[]> headers = proof.headers().stream().map(RecordHeader::encoded).toList();
    assertEquals(Failure.MALFORMED_ENCODING, assertThrows(VerificationException.class,
        () -> RecordProof.parse(headers, someEntry.encode())).failure());
    assertEquals(proof, RecordProof.parse(headers, new byte[0]));
  }

  @Test
  void subRecordProof_ofV2Record_verifies() throws Exception {
    SubRecordProof proof = generator.subRecordProof(head.hash(), first.hash(), 0, first.tree());
    new ProofVerifier(null).verifySubRecord(head.hash(), first.hash(), 0, first.payloads().get(0), proof);
    assertNotNull(generator.primaryChainProofOrNull(head.hash(), first.hash()).writerEntryOrNull());
    assertNotNull(generator.primaryChainProofToHeightOrNull(head.hash(), 1).writerEntryOrNull());
    assertNull(new ProofGenerator(capsule.source).primaryChainProofToHeightOrNull(head.hash(), 1).writerEntryOrNull());
  }
}
