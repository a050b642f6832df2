package dev.capsulevm.vm.exec;

import static dev.capsulevm.vm.exec.PrivateCapsule.ADMIN;
import static dev.capsulevm.vm.exec.PrivateCapsule.CREATOR;
import static dev.capsulevm.vm.exec.PrivateCapsule.NEWCOMER;
import static dev.capsulevm.vm.exec.PrivateCapsule.READER;
import static dev.capsulevm.vm.exec.PrivateCapsule.WRITER;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordValidator;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.vm.exec.PrivateCapsule.Member;
import dev.capsulevm.vm.exec.ProgramStoppedException.Reason;
import dev.capsulevm.vm.members.MemberCache;
import dev.capsulevm.vm.retention.Retention;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Private (version-3) capsules through the executor, built with real cryptography ({@link PrivateCapsule}):
 * created, appended, read and proven; a data record under an epoch it may not use is refused with {@link
 * Reason#STALE_EPOCH} (wire 16), by the objective rule (on top of a removal) or the live check (on a parent
 * older than the removal), naming the membership record that retired the epoch; a rekey makes data
 * writable again after concurrent removals; a membership record without the keystore block its change
 * needs, or with wrong entries or a forged card, is refused as invalid input; nothing refused is stored.
 * An implementation's test extends this class for its store.
 */
public abstract class PrivateMembersContract {
  /** A fresh, empty storage. */
  protected abstract CapsuleStorage newStorage() throws Exception;

  /**
   * The storage as a restarted host finds it: the same data, nothing kept in memory. In memory, the same
   * storage; a store on disk closes and opens again.
   */
  protected CapsuleStorage reopen(CapsuleStorage storage) throws Exception {
    return storage;
  }

  /** Releases the storages {@link #newStorage()} and {@link #reopen} returned, after the executor stopped. */
  protected void releaseStorages() throws Exception {}

  private static final int STALE_EPOCH = 16;
  private static final int INVALID_INPUT = 3;

  private CapsuleStorage storage;
  private SettableClock clock;
  private ScheduledExecutorService scheduler;
  private Executor executor;
  /** What the renter holds: the records the host accepted, and those a test builds by hand. */
  private PrivateCapsule capsule;
  private EpochKey genesis;

  @BeforeEach
  void setUp() throws Exception {
    storage = newStorage();
    clock = new SettableClock(ExecFixture.START);
    scheduler = Executors.newSingleThreadScheduledExecutor();
    executor = newExecutor();
    capsule = new PrivateCapsule(SigningPolicy.EVERY_RECORD);
    genesis = capsule.genesisEpoch();
    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.CreateCapsule(b.put(capsule.metadata.encoded())));
    PendingCommit pending = assertInstanceOf(PendingCommit.class, executor.run(b.program(), b.data(), b.meter(), o -> { }));
    assertFalse(pending.confirm().verify(ExecFixture.HOST.publicKey()).failed());
  }

  private Executor newExecutor() {
    return new Executor(storage, clock, Duration.ofHours(1), Duration.ofSeconds(10), ExecFixture.ENVELOPE,
        ExecFixture.HOST, scheduler);
  }

  @AfterEach
  void tearDown() throws Exception {
    scheduler.shutdownNow();
    assertTrue(scheduler.awaitTermination(30, TimeUnit.SECONDS), "the scheduler stopped");
    releaseStorages();
  }

  /** Appends {@code records} in one live program and confirms it; the renter's copy holds them. */
  private void append(RecordWithBody... records) throws Exception {
    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(records)))));
    PendingCommit pending = assertInstanceOf(PendingCommit.class, executor.run(b.program(), b.data(), b.meter(), o -> { }));
    assertFalse(pending.confirm().verify(ExecFixture.HOST.publicKey()).failed());
    capsule.hold(List.of(records));
  }

  /**
   * The refusal of a live append of {@code records} with wire reason {@code wireReason}, after checking
   * its receipt, the verification failure under it, and that nothing was stored.
   */
  private ProgramStoppedException refused(int wireReason, Failure failure, RecordWithBody... records)
      throws Exception {
    List<Hash> headsBefore = heads();
    List<Hash> membershipBefore = membershipRecords();
    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(records)))));
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
        () -> executor.run(b.program(), b.data(), b.meter(), o -> { }));
    Receipt receipt = ExecutorContract.failedReceipt(e);
    assertEquals(wireReason, receipt.failureReason(), e.getMessage());
    assertEquals(failure, assertInstanceOf(VerificationException.class, e.getCause()).failure(), e.getMessage());
    assertEquals(headsBefore, heads(), "nothing refused is stored");
    assertEquals(membershipBefore, membershipRecords());
    for (RecordWithBody record : records) {
      assertNull(storage.headerByHashOrNull(record.hash()), "refused record " + record.hash());
    }
    return e;
  }

  private ProgramStoppedException staleEpoch(RecordWithBody record) throws Exception {
    ProgramStoppedException e = refused(STALE_EPOCH, Failure.BAD_EPOCH, record);
    assertEquals(Reason.STALE_EPOCH, e.reason());
    return e;
  }

  private ProgramStoppedException badKeystore(RecordWithBody record, String why) throws Exception {
    ProgramStoppedException e = refused(INVALID_INPUT, Failure.BAD_KEYSTORE, record);
    assertEquals(Reason.INVALID_INPUT, e.reason());
    assertTrue(e.getMessage().contains(why), e.getMessage());
    return e;
  }

  private List<Hash> heads() throws Exception {
    try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
      return snapshot.heads();
    }
  }

  private List<Hash> membershipRecords() throws Exception {
    try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
      return snapshot.membershipRecords();
    }
  }

  private RecordWithBody data(Member writer, RecordWithBody parent, String... plaintexts) {
    return capsule.data(writer, List.of(parent.hash()), plaintexts);
  }

  private RecordWithBody set(Member author, RecordWithBody parent, Member member, int bits,
      @Nullable Keystore block) {
    return capsule.change(author, List.of(parent.hash()), new MemberChange.SetMember(member.key(), bits), block);
  }

  /** Sub-record {@code index} of {@code target} as the host returns it from {@code anchor}, its proof verified. */
  private byte[] read(Hash target, int index, Hash anchor) throws Exception {
    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(b.put(target)), index, b.put(anchor)));
    List<InstructionOutput> outputs = new ArrayList<>();
    executor.run(b.program(), b.data(), b.meter(), outputs::add);
    Output.SubRecord read = (Output.SubRecord) OutputEncoding.decode(b.program().instructions().get(0),
        outputs.get(0).encodedOutput());
    new ProofVerifier(null).verifySubRecord(anchor, target, index, read.payload(), read.proof());
    return read.payload();
  }

  /** The first record, by the writer under the genesis epoch, appended. */
  private RecordWithBody first() throws Exception {
    RecordWithBody r1 = capsule.data(WRITER, List.of(capsule.id()), "first");
    append(r1);
    return r1;
  }

  /** The creator removes the reader after {@code parent} and rotates for the writer and itself; appended. */
  private RecordWithBody removeReader(RecordWithBody parent) throws Exception {
    RecordWithBody removal = set(CREATOR, parent, READER, 0, capsule.rotate(List.of(genesis), CREATOR, WRITER));
    append(removal);
    return removal;
  }

  private static EpochKey epochOf(RecordWithBody membershipRecord) throws Exception {
    return Keystore.parse(membershipRecord.payloads().get(1)).epochKey();
  }

  @Test
  void aPrivateCapsuleIsCreatedAppendedReadAndProven() throws Exception {
    RecordWithBody r1 = capsule.data(WRITER, List.of(capsule.id()), "secret one", "secret two");
    append(r1);
    RecordWithBody r2 = data(CREATOR, r1, "secret three");
    append(r2);

    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.Metadata());
    b.add(new Instruction.Heads());
    b.add(new Instruction.HasRecord(b.put(r1.hash())));
    b.add(new Instruction.Prove(b.put(r2.hash()), new RecordSelector.ByHash(b.put(r1.hash())), -1));
    List<InstructionOutput> outputs = new ArrayList<>();
    executor.run(b.program(), b.data(), b.meter(), outputs::add);
    List<Instruction> instructions = b.program().instructions();
    Output.Metadata metadata = (Output.Metadata) OutputEncoding.decode(instructions.get(0), outputs.get(0).encodedOutput());
    assertArrayEquals(capsule.metadata.encoded(), metadata.signedMetadata().encoded());
    assertTrue(metadata.signedMetadata().metadata().isPrivate());
    Output.Heads heads = (Output.Heads) OutputEncoding.decode(instructions.get(1), outputs.get(1).encodedOutput());
    assertEquals(List.of(r2.record()), heads.heads());
    Output.Has has = (Output.Has) OutputEncoding.decode(instructions.get(2), outputs.get(2).encodedOutput());
    assertEquals(r1.record().header(), has.headerOrNull());
    assertEquals(outputs.get(2).encodedOutput().length + ExecFixture.ENVELOPE, outputs.get(2).charged().maxOutputBytes(),
        "a version-3 header is charged its exact size");
    Output.Proof proof = (Output.Proof) OutputEncoding.decode(instructions.get(3), outputs.get(3).encodedOutput());
    RecordProof recordProof = proof.recordProofOrNull();
    assertNotNull(recordProof);
    assertNotNull(recordProof.writerEntryOrNull(), "a version-3 target's proof carries its writer's entry");
    RecordHeader proven = new ProofVerifier(null).verifyRecord(r2.hash(), r1.hash(), recordProof);
    assertEquals(genesis, proven.epochKeyOrNull());

    // The host serves ciphertexts, which the members open with their own wraps.
    byte[] stored = read(r1.hash(), 1, r2.hash());
    assertArrayEquals(r1.payloads().get(1), stored);
    assertEquals("secret two".length() + 16, stored.length);
    assertFalse(new String(stored, StandardCharsets.ISO_8859_1).contains("secret"));
    assertEquals("secret two", capsule.open(READER, r1.record().header(), 1, stored));
    assertEquals("secret one", capsule.open(WRITER, r1.record().header(), 0, read(r1.hash(), 0, r2.hash())));
    assertEquals("secret three", capsule.open(CREATOR, r2.record().header(), 0, read(r2.hash(), 0, r2.hash())));
  }

  @Test
  void anAppendUnderTheOldEpochOnTopOfARemovalIsRefusedAsStaleEpoch() throws Exception {
    RecordWithBody removal = removeReader(first());
    EpochKey rotated = epochOf(removal);
    assertEquals(rotated, capsule.currentEpochAfter(List.of(removal.hash())));

    ProgramStoppedException e = staleEpoch(capsule.dataUnder(WRITER, List.of(removal.hash()), genesis, "stale"));
    assertTrue(e.getMessage().contains("record is written under epoch " + genesis.toHex() + "; the current epoch is "
        + rotated.toHex()) && e.getMessage().contains(removal.hash().toString()), e.getMessage());

    // Under the rotated epoch it is taken; the removed reader has no wrap of it, the writer has.
    RecordWithBody after = data(WRITER, removal, "after the removal");
    append(after);
    byte[] stored = read(after.hash(), 0, after.hash());
    assertEquals("after the removal", capsule.open(WRITER, after.record().header(), 0, stored));
    assertThrows(IllegalStateException.class, () -> capsule.open(READER, after.record().header(), 0, stored));
  }

  @Test
  void anAppendUnderTheOldEpochOnAnOlderParentIsRefusedByTheLiveCheck_evenAfterARestart() throws Exception {
    RecordWithBody r1 = first();
    RecordWithBody removal = removeReader(r1);
    String retired = "epoch " + genesis.toHex() + " was retired by membership record " + removal.hash();

    // Beside the removal the genesis epoch is current by the record's own past, so it is valid there…
    RecordWithBody beside = data(WRITER, r1, "beside the removal");
    assertEquals(genesis, beside.record().header().epochKeyOrNull());
    new RecordValidator(capsule.metadata).validateAppend(List.of(beside), capsule.source, capsule.changelog);
    // …but the host holds the removal: the reader it removed holds that epoch's secret.
    ProgramStoppedException e = staleEpoch(beside);
    assertTrue(e.getMessage().contains("by the capsule's current members") && e.getMessage().contains(retired)
        && e.getMessage().contains("it took read from " + READER.key().toHex())
        && e.getMessage().contains("refresh the capsule's heads and rebuild"), e.getMessage());
    // The creator, who holds every right, is refused the same way: it is the epoch, not the writer.
    assertTrue(staleEpoch(data(CREATOR, r1, "the creator beside")).getMessage().contains(retired));
    // The new epoch does not lie below the old parent: the objective rule refuses it there.
    ProgramStoppedException unknown =
        staleEpoch(capsule.dataUnder(WRITER, List.of(r1.hash()), epochOf(removal), "new epoch, old parent"));
    assertTrue(unknown.getMessage().contains("no epoch " + epochOf(removal).toHex() + " lies below the record"),
        unknown.getMessage());

    // A restarted host (nothing in memory) reads the keystore blocks from its store and refuses it again.
    storage = reopen(storage);
    executor = newExecutor();
    assertTrue(staleEpoch(beside).getMessage().contains(retired));
    // Rebuilt on the heads, under the rotated epoch, it is taken.
    append(data(WRITER, removal, "rebuilt on the heads"));
  }

  @Test
  void afterConcurrentRemovalsOnTwoBranchesNothingIsWritable_untilARekey() throws Exception {
    RecordWithBody r1 = first();
    RecordWithBody admin = set(CREATOR, r1, ADMIN, Rights.READ | Rights.ADD | Rights.ADMIN,
        capsule.forward(genesis, ADMIN));
    append(admin);
    // Branch a: the creator removes the reader. Branch b, on the same parent: the admin removes the writer.
    RecordWithBody a = set(CREATOR, admin, READER, 0, capsule.rotate(List.of(genesis), CREATOR, WRITER, ADMIN));
    append(a);
    RecordWithBody b = set(ADMIN, admin, WRITER, 0, capsule.rotate(List.of(genesis), CREATOR, ADMIN, READER));
    append(b);
    EpochKey ea = epochOf(a);
    EpochKey eb = epochOf(b);

    // Each branch's epoch is held by the member the other branch removed.
    ProgramStoppedException onA = staleEpoch(data(CREATOR, a, "on branch a"));
    assertTrue(onA.getMessage().contains("epoch " + ea.toHex() + " was retired by membership record " + b.hash()),
        onA.getMessage());
    ProgramStoppedException onB = staleEpoch(data(CREATOR, b, "on branch b"));
    assertTrue(onB.getMessage().contains("epoch " + eb.toHex() + " was retired by membership record " + a.hash()),
        onB.getMessage());
    // At the merge no epoch is usable at all.
    List<Hash> merge = List.of(a.hash(), b.hash());
    assertNull(capsule.currentEpochAfter(merge));
    ProgramStoppedException atMerge = staleEpoch(capsule.dataUnder(CREATOR, merge, ea, "at the merge"));
    assertTrue(atMerge.getMessage().contains("no epoch is usable: a member must rekey"), atMerge.getMessage());

    // A reader rekeys at the merge for the readers left; data is writable again, and they read it.
    RecordWithBody rekey = capsule.change(CREATOR, merge, new MemberChange.Rekey(),
        capsule.rotate(List.of(ea, eb), CREATOR, ADMIN));
    append(rekey);
    assertEquals(epochOf(rekey), capsule.currentEpochAfter(List.of(rekey.hash())));
    RecordWithBody after = data(CREATOR, rekey, "after the rekey");
    append(after);
    assertEquals("after the rekey", capsule.open(ADMIN, after.record().header(), 0, read(after.hash(), 0, after.hash())));
  }

  @Test
  void aMemberLeavingNeedsNoRotation_thenAReaderRekeys() throws Exception {
    RecordWithBody r1 = first();
    RecordWithBody leave = set(READER, r1, READER, 0, null);
    append(leave);
    ProgramStoppedException e = staleEpoch(capsule.dataUnder(WRITER, List.of(leave.hash()), genesis, "after the leave"));
    assertTrue(e.getMessage().contains("no epoch is usable: a member must rekey"), e.getMessage());
    RecordWithBody rekey = capsule.change(WRITER, List.of(leave.hash()), new MemberChange.Rekey(),
        capsule.rotate(List.of(genesis), CREATOR, WRITER));
    append(rekey);
    append(data(WRITER, rekey, "after the rekey"));
  }

  @Test
  void aMembershipRecordWithoutTheBlockItNeedsOrWithWrongEntriesIsRefused() throws Exception {
    RecordWithBody r1 = first();
    badKeystore(set(CREATOR, r1, READER, 0, null),
        "the change takes read from " + READER.key().toHex() + ", so the record must carry a rotate keystore block");
    badKeystore(set(CREATOR, r1, READER, 0, capsule.rotate(List.of(genesis), CREATOR, WRITER, READER)),
        "for " + READER.key().toHex() + ", who is not a reader after the record");
    badKeystore(set(CREATOR, r1, READER, 0, capsule.rotate(List.of(genesis), CREATOR)),
        "no entry for reader " + WRITER.key().toHex());
    badKeystore(set(CREATOR, r1, READER, 0, capsule.forward(genesis, CREATOR, WRITER)), "not a forward block");
    badKeystore(set(CREATOR, r1, NEWCOMER, Rights.READ, null), "gives read to " + NEWCOMER.key().toHex());
    badKeystore(capsule.change(WRITER, List.of(r1.hash()), new MemberChange.Rekey(), null),
        "a rekey carries a rotate keystore block");

    // An entry whose x25519 key the member's card does not bind: an admin substituting a key of its own.
    byte[] other = new byte[32];
    Arrays.fill(other, (byte) 0x66);
    Member substituted = new Member(WRITER.identity(), new X25519PrivateKeyParameters(other, 0), WRITER.card());
    badKeystore(set(CREATOR, r1, READER, 0, capsule.rotate(List.of(genesis), CREATOR, substituted)),
        "member " + WRITER.key().toHex() + ": the card signature does not verify");

    // The right blocks are taken.
    RecordWithBody added = set(CREATOR, r1, NEWCOMER, Rights.READ, capsule.forward(genesis, NEWCOMER));
    append(added);
    append(set(CREATOR, added, READER, 0, capsule.rotate(List.of(genesis), CREATOR, WRITER, NEWCOMER)));
  }

  @Test
  void retentionDropsCiphertextsButKeepsTheKeystoreBlocks_andTheLiveCheckStillWorks() throws Exception {
    RecordWithBody r1 = first();
    RecordWithBody keepOne = capsule.change(CREATOR, List.of(r1.hash()),
        new MemberChange.SetRetention(RetentionPolicy.keepHeights(1)), null);
    append(keepOne);
    RecordWithBody r3 = data(WRITER, keepOne, "third");
    append(r3);
    RecordWithBody removal = removeReader(r3);
    RecordWithBody r5 = data(WRITER, removal, "fifth");
    append(r5);

    Retention.Run run = new Retention(storage, new MemberCache(), clock, new Retention.Settings(256, 4096, null))
        .run(capsule.id());
    assertEquals(2, run.dropped(), "r1 and r3; membership records are never dropped");
    try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
      assertNull(snapshot.subRecordsOrNull(r3.hash()));
      assertArrayEquals(removal.payloads().get(1), snapshot.subRecordOrNull(removal.hash(), 1), "the keystore block stays");
    }
    executor = newExecutor();
    ProgramStoppedException e = staleEpoch(data(WRITER, r3, "beside the removal"));
    assertTrue(e.getMessage().contains("was retired by membership record " + removal.hash()), e.getMessage());
  }
}
