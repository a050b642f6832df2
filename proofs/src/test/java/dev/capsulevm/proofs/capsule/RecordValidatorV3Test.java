package dev.capsulevm.proofs.capsule;

import static dev.capsulevm.proofs.members.KeystoreFixture.epoch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.KeystoreFixture;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.merkle.Merkle;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rules of private (format-3) capsules as a host applies them: epochs of data records, keystore blocks. */
class RecordValidatorV3Test {
  private static final SigningKey CREATOR = TestCapsule.CREATOR;
  private static final SigningKey WRITER = TestCapsule.WRITER;
  private static final SigningKey READER = TestCapsule.READER;
  private static final SigningKey STRANGER = TestCapsule.STRANGER;
  private static final EpochKey E0 = V3Capsule.GENESIS_EPOCH;

  private final V3Capsule capsule = new V3Capsule(SigningPolicy.EVERY_RECORD);

  private VerificationException refused(RecordWithBody item) {
    return assertThrows(VerificationException.class, () -> capsule.append(List.of(item)));
  }

  private static void assertFailure(Failure failure, String reason, VerificationException e) {
    assertEquals(failure, e.failure(), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  private static MemberChange set(SigningKey member, int bits) {
    return new MemberChange.SetMember(member.publicKey(), bits);
  }

  private static PublicKey[] keys(SigningKey... members) {
    return java.util.Arrays.stream(members).map(SigningKey::publicKey).toArray(PublicKey[]::new);
  }

  /** {@code item}'s v3 header with another sub-record list, re-signed by its writer's key {@code key}. */
  private static RecordWithBody withPayloads(RecordWithBody item, SigningKey key, List<byte[]> payloads) {
    RecordHeader h = item.record().header();
    RecordHeader header = RecordHeader.createV3(h.capsuleId(), h.height(), h.timestampMillis(), h.writer(), h.kind(),
        payloads.size(), Merkle.root(payloads), h.memberRootOrNull(), h.epochKeyOrNull(), h.encOrNull(),
        h.authParents(), h.parents(), h.skipPointers());
    return new RecordWithBody(Record.of(header, key.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray())), payloads);
  }

  @Test
  void dataUnderTheGenesisEpoch_accepted_itsHeaderCarriesEpochAndEnc() throws Exception {
    RecordWithBody first = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "w1"));
    RecordHeader header = first.record().header();
    assertEquals(RecordHeader.VERSION_3, header.version());
    assertEquals(E0, header.epochKeyOrNull());
    assertEquals(32, header.encOrNull().length);
    assertEquals(header, RecordHeader.parse(header.encoded()));
    VerificationException elsewhere = refused(capsule.dataUnder(WRITER, List.of(first.hash()), "x", epoch("made up")));
    assertFailure(Failure.BAD_EPOCH, "the current epoch is " + E0.toHex(), elsewhere);
  }

  @Test
  void removal_needsARotation_thenDataUsesTheNewEpoch_aConcurrentBranchMayStillUseTheOld() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    List<Hash> after = List.of(base.hash());
    assertFailure(Failure.BAD_KEYSTORE, "must carry a rotate keystore block",
        refused(capsule.change(CREATOR, after, set(READER, 0), null)));
    assertFailure(Failure.BAD_KEYSTORE, "not a forward block",
        refused(capsule.change(CREATOR, after, set(READER, 0), capsule.forward(E0, keys(CREATOR, WRITER)))));
    assertFailure(Failure.BAD_KEYSTORE, "no entry for reader " + WRITER.publicKey().toHex(),
        refused(capsule.change(CREATOR, after, set(READER, 0), capsule.rotate(epoch("1"), List.of(E0), keys(CREATOR)))));

    EpochKey e1 = epoch("1");
    RecordWithBody removal = capsule.appendOne(
        capsule.change(CREATOR, after, set(READER, 0), capsule.rotate(e1, List.of(E0), keys(CREATOR, WRITER))));
    assertEquals(e1, capsule.epochsAfter(List.of(removal.hash())).currentOrNull());

    VerificationException old = refused(capsule.dataUnder(WRITER, List.of(removal.hash()), "old key", E0));
    assertFailure(Failure.BAD_EPOCH, "record is written under epoch " + E0.toHex() + "; the current epoch is " + e1.toHex(), old);
    assertTrue(old.getMessage().contains(removal.hash().toHex()), old.getMessage());
    capsule.appendOne(capsule.data(WRITER, List.of(removal.hash()), "new key"));
    // A branch that does not see the removal is judged by its own past: the old epoch is current there.
    capsule.appendOne(capsule.dataUnder(WRITER, List.of(base.hash()), "concurrent", E0));
  }

  @Test
  void aMembershipRecordAndDataAfterIt_inOneAppend() throws Exception {
    EpochKey e1 = epoch("1");
    RecordWithBody removal =
        capsule.change(CREATOR, List.of(capsule.id()), set(READER, 0), capsule.rotate(e1, List.of(E0), keys(CREATOR, WRITER)));
    capsule.hold(List.of(removal)); // so the next record can be built on it
    RecordWithBody data = capsule.data(WRITER, List.of(removal.hash()), "after");
    assertEquals(e1, data.record().header().epochKeyOrNull());
    V3Capsule fresh = new V3Capsule(SigningPolicy.EVERY_RECORD);
    assertEquals(fresh.id(), capsule.id(), "same metadata, same capsule");
    fresh.append(List.of(removal, data));
  }

  @Test
  void givingRead_needsARotationOrAForwardOfTheCurrentEpoch() throws Exception {
    capsule.know(STRANGER);
    List<Hash> root = List.of(capsule.id());
    assertFailure(Failure.BAD_KEYSTORE, "gives read to " + STRANGER.publicKey().toHex(),
        refused(capsule.change(CREATOR, root, set(STRANGER, 0x01), null)));
    RecordWithBody add = capsule.appendOne(
        capsule.change(CREATOR, root, set(STRANGER, 0x01), capsule.forward(E0, keys(STRANGER))));
    Op op = capsule.ops.get(add.hash());
    assertEquals(Keystore.Type.FORWARD, op.keystoreOrNull().type());
    assertTrue(capsule.epochsAfter(List.of(add.hash())).holders(E0).contains(STRANGER.publicKey()));
    // add without read needs no wrap
    capsule.appendOne(capsule.change(CREATOR, List.of(add.hash()), set(STRANGER, 0x03), null));
  }

  @Test
  void forwardOfAnOldEpoch_refused() throws Exception {
    capsule.know(STRANGER);
    EpochKey e1 = epoch("1");
    RecordWithBody removal = capsule.appendOne(capsule.change(CREATOR, List.of(capsule.id()), set(READER, 0),
        capsule.rotate(e1, List.of(E0), keys(CREATOR, WRITER))));
    assertFailure(Failure.BAD_KEYSTORE, "the current epoch is " + e1.toHex(), refused(
        capsule.change(CREATOR, List.of(removal.hash()), set(STRANGER, 0x01), capsule.forward(E0, keys(STRANGER)))));
  }

  @Test
  void aCardThatDoesNotVerify_refused() throws Exception {
    Keystore.Entry real = KeystoreFixture.entry(CREATOR);
    Keystore.Entry forged = new Keystore.Entry(WRITER.publicKey(), real.x25519(), real.cardSignature(), real.enc(),
        real.wrapped());
    Keystore block = Keystore.rotate(epoch("1"), List.of(), List.of(real, forged));
    VerificationException e = refused(capsule.change(CREATOR, List.of(capsule.id()), set(READER, 0), block));
    assertFailure(Failure.BAD_KEYSTORE, "keystore entry", e);
    assertTrue(e.getMessage().contains(WRITER.publicKey().toHex()), e.getMessage());
  }

  @Test
  void rekey_needsReadAndARotation() throws Exception {
    capsule.know(STRANGER);
    List<Hash> root = List.of(capsule.id());
    EpochKey e1 = epoch("1");
    Keystore block = capsule.rotate(e1, List.of(E0), keys(CREATOR, WRITER, READER));
    assertFailure(Failure.BAD_KEYSTORE, "a rekey carries a rotate keystore block",
        refused(capsule.change(READER, root, new MemberChange.Rekey(), null)));
    assertFailure(Failure.WRITER_NOT_ALLOWED, "is not a member",
        refused(capsule.change(STRANGER, root, new MemberChange.Rekey(), block)));
    RecordWithBody addOnly = capsule.appendOne(capsule.change(CREATOR, root, set(STRANGER, 0x02), null));
    assertFailure(Failure.WRITER_NOT_ALLOWED, "may not rekey (needs read)",
        refused(capsule.change(STRANGER, List.of(addOnly.hash()), new MemberChange.Rekey(), block)));
    RecordWithBody rekey = capsule.appendOne(capsule.change(READER, List.of(addOnly.hash()), new MemberChange.Rekey(), block));
    assertEquals(e1, capsule.epochsAfter(List.of(rekey.hash())).currentOrNull());
    // The add-only member writes under the epoch it cannot read.
    capsule.appendOne(capsule.data(STRANGER, List.of(rekey.hash()), "write only"));
  }

  @Test
  void concurrentRemovals_thenAMerge_noUsableEpochUntilARekey() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    EpochKey ea = epoch("a");
    EpochKey eb = epoch("b");
    RecordWithBody a = capsule.appendOne(capsule.change(CREATOR, List.of(base.hash()), set(READER, 0),
        capsule.rotate(ea, List.of(E0), keys(CREATOR, WRITER))));
    RecordWithBody b = capsule.appendOne(capsule.change(CREATOR, List.of(base.hash()), set(WRITER, 0x02),
        capsule.rotate(eb, List.of(E0), keys(CREATOR, READER))));
    List<Hash> merge = List.of(a.hash(), b.hash());
    assertNull(capsule.epochsAfter(merge).currentOrNull());
    for (EpochKey key : List.of(E0, ea, eb)) {
      assertFailure(Failure.BAD_EPOCH, "no epoch is usable: a member must rekey",
          refused(capsule.dataUnder(CREATOR, merge, "stuck", key)));
    }
    EpochKey em = epoch("m");
    RecordWithBody rekey = capsule.appendOne(capsule.change(CREATOR, merge, new MemberChange.Rekey(),
        capsule.rotate(em, List.of(ea, eb), keys(CREATOR))));
    RecordWithBody data = capsule.appendOne(capsule.data(WRITER, List.of(rekey.hash()), "after the rekey"));
    assertEquals(em, data.record().header().epochKeyOrNull());
  }

  @Test
  void membershipRecordShape_oneOrTwoSubRecords_theSecondAKeystoreBlock() throws Exception {
    List<Hash> root = List.of(capsule.id());
    RecordWithBody good = capsule.change(CREATOR, root, set(READER, 0x01), null);
    byte[] change = good.payloads().get(0);
    byte[] block = capsule.forward(E0, keys(READER)).encode();
    assertFailure(Failure.MALFORMED_ENCODING, "1 or 2 sub-records",
        refused(withPayloads(good, CREATOR, List.of(change, block, block))));
    assertFailure(Failure.MALFORMED_ENCODING, "keystore block",
        refused(withPayloads(good, CREATOR, List.of(change, new byte[] {1, 1}))));
    assertThrows(IllegalArgumentException.class, () -> Record.buildV3(root, List.of(change, block, block), 1, CREATOR,
        true, RecordKind.MEMBERSHIP, null, null, capsule.source, capsule.changelog, capsule.membership()));
    assertThrows(IllegalArgumentException.class, () -> Record.buildV3(root, List.of(change, new byte[] {1}), 1, CREATOR,
        true, RecordKind.MEMBERSHIP, null, null, capsule.source, capsule.changelog, capsule.membership()));
    capsule.appendOne(withPayloads(good, CREATOR, List.of(change, block)));
  }

  @Test
  void rekey_isForPrivateCapsules_v2RefusesIt() throws Exception {
    V2Capsule v2 = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody change = v2.change(CREATOR, List.of(v2.id()), set(READER, 0x01));
    RecordHeader h = change.record().header();
    List<byte[]> rekey = List.of(new MemberChange.Rekey().encode());
    RecordHeader header = RecordHeader.createV2(h.capsuleId(), h.height(), h.timestampMillis(), h.writer(), h.kind(),
        1, Merkle.root(rekey), h.memberRootOrNull(), h.authParents(), h.parents(), h.skipPointers());
    RecordWithBody item = new RecordWithBody(
        Record.of(header, CREATOR.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray())), rekey);
    VerificationException e = assertThrows(VerificationException.class, () -> v2.append(List.of(item)));
    assertFailure(Failure.MALFORMED_ENCODING, "rekey is for private capsules", e);
    assertThrows(IllegalArgumentException.class, () -> v2.build(CREATOR, List.of(v2.id()), rekey, RecordKind.MEMBERSHIP, true));
  }

  @Test
  void headerVersion_mustBe3_andBuildersMatchTheCapsule() throws Exception {
    RecordWithBody v3 = capsule.data(WRITER, List.of(capsule.id()), "x");
    RecordHeader h = v3.record().header();
    RecordHeader v2 = RecordHeader.createV2(h.capsuleId(), h.height(), h.timestampMillis(), h.writer(), h.kind(),
        h.subRecordCount(), h.subRecordRoot(), h.memberRootOrNull(), h.authParents(), h.parents(), h.skipPointers());
    VerificationException e = refused(new RecordWithBody(
        Record.of(v2, WRITER.sign(Domain.RECORD_SIGNATURE, v2.hash().toByteArray())), v3.payloads()));
    assertFailure(Failure.MALFORMED_ENCODING, "capsule format 3 takes record headers of version 3", e);
    assertThrows(IllegalArgumentException.class, () -> Record.buildV2(List.of(capsule.id()), v3.payloads(), 1, WRITER,
        true, RecordKind.DATA, capsule.source, capsule.changelog, capsule.membership()));
    assertThrows(IllegalArgumentException.class, () -> Record.buildV3(List.of(capsule.id()), v3.payloads(), 1, WRITER,
        true, RecordKind.DATA, null, null, capsule.source, capsule.changelog, capsule.membership()));
    assertThrows(IllegalArgumentException.class, () -> Record.buildV3(List.of(capsule.id()), List.of(new MemberChange.Rekey().encode()),
        1, WRITER, true, RecordKind.MEMBERSHIP, E0, new byte[32], capsule.source, capsule.changelog, capsule.membership()));
  }

  @Test
  void validateOp_returnsTheKeystoreToo() throws Exception {
    Keystore block = capsule.rotate(epoch("1"), List.of(E0), keys(CREATOR, WRITER, READER));
    RecordWithBody rekey = capsule.change(READER, List.of(capsule.id()), new MemberChange.Rekey(), block);
    Op op = capsule.validator.validateOp(rekey, capsule.source, capsule.changelog, true);
    assertNotNull(op);
    assertEquals(block, op.keystoreOrNull());
    assertEquals(new MemberChange.Rekey(), capsule.validator.validate(rekey, capsule.source, capsule.changelog, true));
    assertNull(capsule.validator.validateOp(capsule.data(WRITER, List.of(capsule.id()), "d"), capsule.source,
        capsule.changelog, true));
  }

  @Test
  void proofsOfV3Records_carryAndCheckTheWriterEntry() throws Exception {
    RecordWithBody first = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "first"));
    RecordWithBody removal = capsule.appendOne(capsule.change(CREATOR, List.of(first.hash()), set(READER, 0),
        capsule.rotate(epoch("1"), List.of(E0), keys(CREATOR, WRITER))));
    List<RecordWithBody> chain = new ArrayList<>(List.of(first, removal));
    RecordWithBody parent = removal;
    for (int i = 0; i < 5; i++) {
      parent = capsule.appendOne(capsule.data(WRITER, List.of(parent.hash()), "r" + i));
      chain.add(parent);
    }
    Hash head = parent.hash();
    ProofGenerator generator = new ProofGenerator(capsule.source, capsule.memberStates());
    for (RecordWithBody target : chain) {
      RecordProof proof = generator.recordProof(head, target.hash());
      assertNotNull(proof.writerEntryOrNull());
      RecordProof parsed = RecordProof.parse(proof.headers().stream().map(RecordHeader::encoded).toList(),
          proof.writerEntryOrNull().encode());
      assertEquals(target.hash(), new ProofVerifier(null).verifyRecord(head, target.hash(), parsed).hash());
    }
    RecordProof withoutEntry = new RecordProof(generator.recordProof(head, first.hash()).headers());
    VerificationException e = assertThrows(VerificationException.class,
        () -> new ProofVerifier(null).verifyRecord(head, first.hash(), withoutEntry));
    assertEquals(Failure.BAD_MEMBER_ROOT, e.failure());
  }
}
