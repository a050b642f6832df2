package dev.capsulevm.proofs.capsule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.merkle.Merkle;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class RecordValidatorV2Test {
  private static final SigningKey CREATOR = TestCapsule.CREATOR;
  private static final SigningKey WRITER = TestCapsule.WRITER;
  private static final SigningKey READER = TestCapsule.READER;
  private static final SigningKey STRANGER = TestCapsule.STRANGER;

  private final V2Capsule capsule = new V2Capsule(SigningPolicy.EVERY_RECORD);

  private VerificationException refused(List<RecordWithBody> append) {
    return assertThrows(VerificationException.class, () -> capsule.append(append));
  }

  private VerificationException refused(RecordWithBody item) {
    return refused(List.of(item));
  }

  private static MemberChange setMember(SigningKey member, int bits) {
    return new MemberChange.SetMember(member.publicKey(), bits);
  }

  /** {@code item}'s header rebuilt with the given v2 fields and signed by {@code key}. */
  private static RecordWithBody resigned(
      RecordWithBody item, SigningKey key, RecordKind kind, Hash memberRoot, List<Hash> authParents) {
    RecordHeader h = item.record().header();
    RecordHeader header = RecordHeader.createV2(h.capsuleId(), h.height(), h.timestampMillis(), key.publicKey(),
        kind, h.subRecordCount(), h.subRecordRoot(), memberRoot, authParents, h.parents(), h.skipPointers());
    return new RecordWithBody(
        Record.of(header, key.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray())), item.payloads());
  }

  @Test
  void dataRecords_membersWithAdd_accepted_othersRefusedNamingTheKey() throws Exception {
    RecordWithBody first = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "w1"));
    RecordHeader header = first.record().header();
    assertEquals(RecordHeader.VERSION_2, header.version());
    assertEquals(List.of(), header.authParents());
    assertEquals(MemberState.genesis(capsule.metadata.metadata()).root(), header.memberRootOrNull());
    capsule.appendOne(capsule.data(CREATOR, List.of(first.hash()), "c1"));

    VerificationException reader = refused(capsule.data(READER, List.of(first.hash()), "r"));
    assertEquals(Failure.WRITER_NOT_ALLOWED, reader.failure());
    assertTrue(reader.getMessage().contains(READER.publicKey().toHex()), reader.getMessage());
    assertTrue(reader.getMessage().contains("needs add"), reader.getMessage());
    VerificationException stranger = refused(capsule.data(STRANGER, List.of(first.hash()), "s"));
    assertEquals(Failure.WRITER_NOT_ALLOWED, stranger.failure());
    assertTrue(stranger.getMessage().contains("is not a member"), stranger.getMessage());
  }

  @Test
  void appendOnTopOfRemoval_refusedNamingTheRemoval_concurrentOnOldBranch_accepted() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    RecordWithBody removal = capsule.appendOne(capsule.change(CREATOR, List.of(base.hash()), setMember(WRITER, 0)));
    assertEquals(List.of(), removal.record().header().authParents());

    RecordWithBody after = capsule.data(WRITER, List.of(removal.hash()), "after");
    assertEquals(List.of(removal.hash()), after.record().header().authParents());
    VerificationException e = refused(after);
    assertEquals(Failure.WRITER_NOT_ALLOWED, e.failure());
    assertTrue(e.getMessage().contains(WRITER.publicKey().toHex()), e.getMessage());
    assertTrue(e.getMessage().contains(removal.hash().toString()), e.getMessage());

    // The objective rule: a record on a branch that does not see the removal is judged by its own past.
    RecordWithBody concurrent = capsule.appendOne(capsule.data(WRITER, List.of(base.hash()), "concurrent"));
    assertEquals(List.of(), concurrent.record().header().authParents());
    // Merging the branches puts the removal below: the merge record is the creator's, the writer's refused.
    capsule.appendOne(capsule.data(CREATOR, List.of(concurrent.hash(), removal.hash()), "merge"));
    assertEquals(Failure.WRITER_NOT_ALLOWED,
        refused(capsule.data(WRITER, List.of(concurrent.hash(), removal.hash()), "merge by writer")).failure());
  }

  @Test
  void membershipRecords_rightsChecked() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    List<Hash> parents = List.of(base.hash());
    VerificationException noAdmin = refused(capsule.change(WRITER, parents, setMember(STRANGER, Permissions.READ)));
    assertEquals(Failure.WRITER_NOT_ALLOWED, noAdmin.failure());
    assertTrue(noAdmin.getMessage().contains("needs admin"), noAdmin.getMessage());
    assertEquals(Failure.WRITER_NOT_ALLOWED,
        refused(capsule.change(WRITER, parents, new MemberChange.SetRetention(RetentionPolicy.keepHeights(5))))
            .failure());
    VerificationException stranger = refused(capsule.change(STRANGER, parents, setMember(STRANGER, 0)));
    assertEquals(Failure.WRITER_NOT_ALLOWED, stranger.failure());
    assertTrue(stranger.getMessage().contains("is not a member"), stranger.getMessage());

    // A member may leave; the creator may change anybody else.
    RecordWithBody leave = capsule.appendOne(capsule.change(READER, parents, setMember(READER, 0)));
    RecordWithBody grant = capsule.appendOne(
        capsule.change(CREATOR, List.of(leave.hash()), setMember(STRANGER, Permissions.READ | Permissions.ADD)));
    assertEquals(List.of(leave.hash()), grant.record().header().authParents());
    capsule.appendOne(capsule.data(STRANGER, List.of(grant.hash()), "new member"));
  }

  @Test
  void membershipRecord_kindRules() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    RecordHeader h = base.record().header();
    byte[] change = setMember(STRANGER, Permissions.READ).encode();

    List<byte[]> two = List.of(change, change);
    RecordWithBody twoPayloads = resigned(
        new RecordWithBody(base.record(), two), CREATOR, RecordKind.MEMBERSHIP, h.memberRootOrNull(), List.of());
    assertEquals(Failure.SUB_RECORD_ROOT_MISMATCH, refused(twoPayloads).failure(), "root covers one payload");

    RecordWithBody dataAsChange = capsule.data(CREATOR, List.of(base.hash()), "not a change body");
    RecordHeader d = dataAsChange.record().header();
    VerificationException notChange = refused(
        resigned(dataAsChange, CREATOR, RecordKind.MEMBERSHIP, d.memberRootOrNull(), d.authParents()));
    assertEquals(Failure.MALFORMED_ENCODING, notChange.failure());

    RecordWithBody twoSubRecords = capsule.build(CREATOR, List.of(base.hash()), two, RecordKind.DATA, true);
    RecordHeader t = twoSubRecords.record().header();
    VerificationException count = refused(
        resigned(twoSubRecords, CREATOR, RecordKind.MEMBERSHIP, t.memberRootOrNull(), t.authParents()));
    assertEquals(Failure.MALFORMED_ENCODING, count.failure());
    assertTrue(count.getMessage().contains("exactly 1 sub-record"), count.getMessage());

    assertThrows(IllegalArgumentException.class,
        () -> capsule.build(CREATOR, List.of(base.hash()), two, RecordKind.MEMBERSHIP, true));
    assertThrows(IllegalArgumentException.class,
        () -> capsule.build(CREATOR, List.of(base.hash()), List.of(change), RecordKind.MEMBERSHIP, false));
  }

  @Test
  void membershipRecord_unsignedUnderHeartbeat_refused() throws Exception {
    V2Capsule heartbeat = new V2Capsule(SigningPolicy.HEARTBEAT);
    RecordWithBody unsignedData = heartbeat.build(WRITER, List.of(heartbeat.id()), List.of(new byte[] {1}),
        RecordKind.DATA, false);
    heartbeat.hold(List.of(unsignedData));
    RecordWithBody signedData = heartbeat.data(WRITER, List.of(unsignedData.hash()), "signed");
    heartbeat.ops.clear();
    InMemoryRecordSource empty = new InMemoryRecordSource();
    heartbeat.validator.validateAppend(List.of(unsignedData, signedData), empty, heartbeat.changelog);

    RecordWithBody change = heartbeat.change(CREATOR, List.of(heartbeat.id()), setMember(STRANGER, Permissions.READ));
    RecordWithBody unsignedChange = new RecordWithBody(Record.of(change.record().header(), null), change.payloads());
    heartbeat.hold(List.of(unsignedChange));
    RecordWithBody vouching = heartbeat.data(CREATOR, List.of(unsignedChange.hash()), "vouches");
    heartbeat.ops.clear();
    VerificationException e = assertThrows(VerificationException.class,
        () -> heartbeat.validator.validateAppend(List.of(unsignedChange, vouching), empty, heartbeat.changelog));
    assertEquals(Failure.MISSING_SIGNATURE, e.failure());
    assertTrue(e.getMessage().contains("record 0 of the append"), e.getMessage());
  }

  @Test
  void stagedMembershipRecords_countWithinOneAppend() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    RecordWithBody grant = capsule.change(CREATOR, List.of(base.hash()), setMember(STRANGER, Permissions.ADD));
    capsule.hold(List.of(grant));
    RecordWithBody byNewMember = capsule.data(STRANGER, List.of(grant.hash()), "new");
    RecordWithBody removal = capsule.change(CREATOR, List.of(grant.hash()), setMember(WRITER, 0));
    capsule.hold(List.of(removal));
    RecordWithBody byRemoved = capsule.data(WRITER, List.of(removal.hash()), "gone");

    // Start again from what was held before the append: only base.
    V2Capsule fresh = capsule;
    InMemoryRecordSource held = new InMemoryRecordSource();
    held.add(base.record().header());
    fresh.ops.clear();
    fresh.validator.validateAppend(List.of(grant, byNewMember), held, fresh.changelog);
    VerificationException e = assertThrows(VerificationException.class,
        () -> fresh.validator.validateAppend(List.of(grant, removal, byRemoved), held, fresh.changelog));
    assertEquals(Failure.WRITER_NOT_ALLOWED, e.failure());
    assertTrue(e.getMessage().startsWith("WRITER_NOT_ALLOWED: record 2 of the append"), e.getMessage());
    assertTrue(e.getMessage().contains(removal.hash().toString()), e.getMessage());
  }

  @Test
  void authParents_acrossAMerge_maximalOnly() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    RecordWithBody m1 = capsule.appendOne(capsule.change(CREATOR, List.of(base.hash()), setMember(STRANGER, 1)));
    RecordWithBody a = capsule.appendOne(capsule.data(WRITER, List.of(m1.hash()), "a"));
    RecordWithBody m2 = capsule.appendOne(
        capsule.change(CREATOR, List.of(base.hash()), new MemberChange.SetRetention(RetentionPolicy.keepHeights(100))));
    RecordWithBody b = capsule.appendOne(capsule.data(WRITER, List.of(m2.hash()), "b"));

    RecordWithBody merge = capsule.appendOne(capsule.data(WRITER, List.of(a.hash(), b.hash()), "merge"));
    List<Hash> both = Stream.of(m1.hash(), m2.hash()).sorted().toList();
    assertEquals(both, merge.record().header().authParents());
    MemberState merged = capsule.membership().stateBefore(both, capsule.changelog);
    assertEquals(merged.root(), merge.record().header().memberRootOrNull());
    assertEquals(1, merged.bitsOf(STRANGER.publicKey()));
    assertEquals(RetentionPolicy.keepHeights(100), merged.retention());

    // m3 lies above m1; a merge of m3's branch with a's sees m1 only below m3.
    RecordWithBody m3 = capsule.appendOne(capsule.change(CREATOR, List.of(a.hash()), setMember(STRANGER, 3)));
    RecordWithBody c = capsule.appendOne(capsule.data(WRITER, List.of(m3.hash()), "c"));
    RecordWithBody merge2 = capsule.appendOne(capsule.data(WRITER, List.of(c.hash(), a.hash(), merge.hash()), "m"));
    assertEquals(Stream.of(m2.hash(), m3.hash()).sorted().toList(), merge2.record().header().authParents());
    assertEquals(List.of(m3.hash()), c.record().header().authParents());
    assertEquals(List.of(m1.hash()), m3.record().header().authParents());
  }

  @Test
  void tamperedV2Fields_refused() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    RecordWithBody m1 = capsule.appendOne(capsule.change(CREATOR, List.of(base.hash()), setMember(STRANGER, 1)));
    RecordWithBody m2 = capsule.appendOne(capsule.change(CREATOR, List.of(m1.hash()), setMember(STRANGER, 3)));
    RecordWithBody good = capsule.data(WRITER, List.of(m2.hash()), "good");
    RecordHeader g = good.record().header();
    Hash otherRoot = Merkle.leafHash(new byte[] {1});

    assertEquals(Failure.BAD_MEMBER_ROOT,
        refused(resigned(good, WRITER, RecordKind.DATA, otherRoot, g.authParents())).failure());
    Hash genesisRoot = capsule.membership().genesis().root();
    assertEquals(Failure.BAD_MEMBER_ROOT,
        refused(resigned(good, WRITER, RecordKind.DATA, genesisRoot, g.authParents())).failure());
    assertEquals(Failure.BAD_AUTH_PARENTS,
        refused(resigned(good, WRITER, RecordKind.DATA, g.memberRootOrNull(), List.of())).failure());
    assertEquals(Failure.BAD_AUTH_PARENTS,
        refused(resigned(good, WRITER, RecordKind.DATA, g.memberRootOrNull(), List.of(m1.hash()))).failure());
    List<Hash> extra = Stream.of(m1.hash(), m2.hash()).sorted().toList();
    assertEquals(Failure.BAD_AUTH_PARENTS,
        refused(resigned(good, WRITER, RecordKind.DATA, g.memberRootOrNull(), extra)).failure());
    // Kind: a data record whose payload is no change body, relabelled as a membership record.
    assertEquals(Failure.MALFORMED_ENCODING,
        refused(resigned(good, WRITER, RecordKind.MEMBERSHIP, g.memberRootOrNull(), g.authParents())).failure());
    // Kind: the writer cannot pass a data record off as a membership change it has no right to make.
    RecordWithBody asData = capsule.build(
        WRITER, List.of(m2.hash()), List.of(setMember(WRITER, 0x13).encode()), RecordKind.DATA, true);
    RecordHeader a = asData.record().header();
    VerificationException kind =
        refused(resigned(asData, WRITER, RecordKind.MEMBERSHIP, a.memberRootOrNull(), a.authParents()));
    assertEquals(Failure.WRITER_NOT_ALLOWED, kind.failure());
    // Unsigned tampering is a bad signature, of course.
    RecordWithBody forged = new RecordWithBody(
        Record.of(resigned(good, WRITER, RecordKind.DATA, otherRoot, g.authParents()).record().header(),
            good.record().signatureOrNull()), good.payloads());
    assertEquals(Failure.BAD_SIGNATURE, refused(forged).failure());
    capsule.appendOne(good);
  }

  @Test
  void headerVersion_mustMatchTheMetadata() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    List<byte[]> payloads = List.of(new byte[] {1});
    Record v1 = Record.build(capsule.id(), List.of(base.hash()), payloads, 5, WRITER, true, capsule.source);
    VerificationException e = refused(new RecordWithBody(v1, payloads));
    assertEquals(Failure.MALFORMED_ENCODING, e.failure());
    assertTrue(e.getMessage().contains("capsule format 2 takes record headers of version 2"), e.getMessage());

    TestCapsule old = new TestCapsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody oldBase = old.append(List.of(old.id()), payloads);
    RecordHeader h = oldBase.record().header();
    RecordHeader v2 = RecordHeader.createV2(old.id(), 2, 5, WRITER.publicKey(), RecordKind.DATA, 1,
        h.subRecordRoot(), h.subRecordRoot(), List.of(), List.of(oldBase.hash()), List.of());
    RecordWithBody item = new RecordWithBody(
        Record.of(v2, WRITER.sign(Domain.RECORD_SIGNATURE, v2.hash().toByteArray())), payloads);
    VerificationException e1 = assertThrows(VerificationException.class,
        () -> old.validator.validateAppend(List.of(item), old.source));
    assertEquals(Failure.MALFORMED_ENCODING, e1.failure());
    assertTrue(e1.getMessage().contains("capsule format 1 takes record headers of version 1"), e1.getMessage());
  }

  @Test
  void buildV2_needsVersion2Metadata() {
    TestCapsule old = new TestCapsule(SigningPolicy.EVERY_RECORD);
    assertThrows(IllegalArgumentException.class, () -> new Membership(old.metadata));
    assertThrows(IllegalArgumentException.class, () -> Record.buildV2(old.id(), List.of(old.id()),
        new ArrayList<>(), 1, WRITER, true, RecordKind.DATA, old.source, h -> null, old.metadata));
    assertEquals(null, old.validator.membershipOrNull());
  }

  @Test
  void incompleteChangelog_isTheCallersError() throws Exception {
    RecordWithBody base = capsule.appendOne(capsule.data(WRITER, List.of(capsule.id()), "base"));
    RecordWithBody m1 = capsule.appendOne(capsule.change(CREATOR, List.of(base.hash()), setMember(STRANGER, 1)));
    RecordWithBody m2 = capsule.appendOne(capsule.change(CREATOR, List.of(m1.hash()), setMember(STRANGER, 3)));
    RecordWithBody next = capsule.data(WRITER, List.of(m2.hash()), "next");
    Membership fresh = new Membership(capsule.metadata);
    assertThrows(IllegalStateException.class, () -> fresh.stateBefore(List.of(m2.hash()), h -> null));
    assertThrows(IllegalStateException.class,
        () -> fresh.stateBefore(List.of(m2.hash()), h -> h.equals(m2.hash()) ? capsule.ops.get(h) : null));
    assertThrows(IllegalStateException.class,
        () -> new RecordValidator(capsule.metadata).validateAppend(List.of(next), capsule.source));
    assertEquals(3, fresh.stateBefore(List.of(m2.hash()), capsule.changelog).bitsOf(STRANGER.publicKey()));
  }
}
