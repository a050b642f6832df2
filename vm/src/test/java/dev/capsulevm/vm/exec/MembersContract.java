package dev.capsulevm.vm.exec;

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
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.vm.exec.ProgramStoppedException.Reason;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Live appends to a version-2 capsule (docs/FORMAT.md, "Members"): the executor refuses a record whose
 * writer lacked the right before it (the objective rule) or lacks it among the capsule's current members
 * as the host holds them (the subjective rule), with {@link Reason#WRITER_NOT_ALLOWED} naming the key and
 * the membership record that took the right away, and stores nothing refused; proofs of version-2
 * records carry an entry that verifies. An implementation's test extends this class for its store.
 */
public abstract class MembersContract {
  /** A fresh, empty storage. */
  protected abstract CapsuleStorage newStorage() throws Exception;

  /** Releases the storages {@link #newStorage()} returned, after the executor stopped. */
  protected void releaseStorages() throws Exception {}

  static final SigningKey CREATOR = TestCapsule.CREATOR;
  static final SigningKey WRITER = TestCapsule.WRITER;
  static final SigningKey STRANGER = TestCapsule.STRANGER;
  static final SigningKey ADMIN = ExecFixture.key(0x71);
  static final SigningKey NEWCOMER = ExecFixture.key(0x72);

  private CapsuleStorage storage;
  private ScheduledExecutorService scheduler;
  private Executor executor;
  /** What a renter holds: the records the host accepted, and those a test builds by hand. */
  private V2Capsule capsule;

  @BeforeEach
  void setUp() throws Exception {
    storage = newStorage();
    scheduler = Executors.newSingleThreadScheduledExecutor();
    executor = new Executor(storage, new SettableClock(ExecFixture.START), Duration.ofHours(1), Duration.ofSeconds(10),
        ExecFixture.ENVELOPE, ExecFixture.HOST, scheduler);
    capsule = new V2Capsule(SigningPolicy.EVERY_RECORD);
    try (Batch batch = storage.newBatch()) {
      batch.createCapsule(capsule.metadata);
      batch.commit();
    }
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

  /** The refusal of a live append of {@code records}, after checking its receipt and that nothing was stored. */
  private ProgramStoppedException refused(RecordWithBody... records) throws Exception {
    List<Hash> headsBefore = heads();
    List<Hash> membershipBefore = membershipRecords();
    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(records)))));
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
        () -> executor.run(b.program(), b.data(), b.meter(), o -> { }));
    Receipt receipt = ExecutorContract.failedReceipt(e);
    assertEquals(15, receipt.failureReason(), "WRITER_NOT_ALLOWED's wire number");
    assertEquals(headsBefore, heads(), "nothing refused is stored");
    assertEquals(membershipBefore, membershipRecords());
    for (RecordWithBody record : records) {
      assertNull(storage.headerByHashOrNull(record.hash()), "refused record " + record.hash());
    }
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

  private RecordWithBody data(SigningKey writer, RecordWithBody parent, String tag) {
    return capsule.data(writer, List.of(parent.hash()), tag);
  }

  private RecordWithBody set(SigningKey author, RecordWithBody parent, SigningKey member, int bits) {
    return capsule.change(author, List.of(parent.hash()), new MemberChange.SetMember(member.publicKey(), bits));
  }

  /** The creator makes {@link #ADMIN} an admin (read, add, admin) after a first record by the writer. */
  private RecordWithBody withAdmin() throws Exception {
    RecordWithBody first = capsule.data(WRITER, List.of(capsule.id()), "first");
    append(first);
    RecordWithBody admin = set(CREATOR, first, ADMIN, Rights.READ | Rights.ADD | Rights.ADMIN);
    append(admin);
    return admin;
  }

  @Test
  void aMemberAddedByAnAdminAppends() throws Exception {
    RecordWithBody admin = withAdmin();
    RecordWithBody added = set(ADMIN, admin, NEWCOMER, Rights.READ | Rights.ADD);
    capsule.hold(List.of(added)); // the renter builds the next record on it before sending both
    RecordWithBody first = data(NEWCOMER, added, "newcomer's first");
    append(added, first); // the change counts for the record after it in the same append
    RecordWithBody second = data(NEWCOMER, first, "newcomer's second");
    append(second);
    assertEquals(List.of(second.hash()), heads());
    List<Hash> expected = new ArrayList<>(List.of(admin.hash(), added.hash()));
    expected.sort(null);
    assertEquals(expected, membershipRecords());
  }

  @Test
  void aNonMembersAppendIsRefusedNamingTheKey() throws Exception {
    RecordWithBody admin = withAdmin();
    ProgramStoppedException e = refused(data(STRANGER, admin, "stranger"));
    assertEquals(Reason.WRITER_NOT_ALLOWED, e.reason());
    assertEquals(VerificationException.Failure.WRITER_NOT_ALLOWED,
        assertInstanceOf(VerificationException.class, e.getCause()).failure());
    assertTrue(e.getMessage().contains("key " + STRANGER.publicKey().toHex() + " is not a member"), e.getMessage());
    // A reader (read only) may not append either.
    ProgramStoppedException reader = refused(data(TestCapsule.READER, admin, "reader"));
    assertTrue(reader.getMessage().contains(TestCapsule.READER.publicKey().toHex())
        && reader.getMessage().contains("needs add"), reader.getMessage());
  }

  @Test
  void aRemovedWritersAppendIsRefusedOnTopOfTheRemovalAndOnAnOldParent() throws Exception {
    RecordWithBody admin = withAdmin();
    RecordWithBody before = data(WRITER, admin, "before the removal");
    append(before);
    RecordWithBody removal = set(ADMIN, before, WRITER, 0);
    append(removal);
    String writer = WRITER.publicKey().toHex();

    // On top of the removal: its own past says it is not a member (the objective rule).
    ProgramStoppedException onTop = refused(data(WRITER, removal, "after the removal"));
    assertEquals(Reason.WRITER_NOT_ALLOWED, onTop.reason());
    assertTrue(onTop.getMessage().contains("key " + writer + " is not a member")
        && onTop.getMessage().contains("membership record " + removal.hash() + " took its bits away"),
        onTop.getMessage());

    // On a parent older than the removal its own past lets it; the host's current members do not.
    RecordWithBody concurrent = data(WRITER, before, "beside the removal");
    capsule.validator.validateAppend(List.of(concurrent), capsule.source, capsule.changelog); // objectively valid
    ProgramStoppedException old = refused(concurrent);
    assertEquals(Reason.WRITER_NOT_ALLOWED, old.reason());
    assertTrue(old.getMessage().contains("current members")
        && old.getMessage().contains("key " + writer + " is not a member")
        && old.getMessage().contains("membership record " + removal.hash() + " took its bits away"),
        old.getMessage());

    // A member still in the capsule appends on the same old parent.
    append(data(CREATOR, before, "the creator beside the removal"));
  }

  @Test
  void aChangeByAMemberWithoutTheRightIsRefused() throws Exception {
    RecordWithBody admin = withAdmin();
    ProgramStoppedException e = refused(set(WRITER, admin, NEWCOMER, Rights.READ));
    assertEquals(Reason.WRITER_NOT_ALLOWED, e.reason());
    assertTrue(e.getMessage().contains("key " + WRITER.publicKey().toHex() + " holds bits 0x03")
        && e.getMessage().contains("needs admin"), e.getMessage());
    // An admin may not make another admin: that needs superadmin.
    ProgramStoppedException admins = refused(set(ADMIN, admin, NEWCOMER, Rights.ADMIN));
    assertTrue(admins.getMessage().contains("needs superadmin"), admins.getMessage());
  }

  @Test
  void aChangeTargetingTheCreatorIsRefused() throws Exception {
    RecordWithBody admin = withAdmin();
    ProgramStoppedException e = refused(set(ADMIN, admin, CREATOR, 0));
    assertEquals(Reason.WRITER_NOT_ALLOWED, e.reason());
    assertTrue(e.getMessage().contains("the creator cannot be changed"), e.getMessage());
  }

  @Test
  void proofsOfVersion2RecordsCarryAWriterEntryThatVerifies() throws Exception {
    RecordWithBody admin = withAdmin();
    RecordWithBody added = set(ADMIN, admin, NEWCOMER, Rights.READ | Rights.ADD);
    capsule.hold(List.of(added));
    RecordWithBody first = data(NEWCOMER, added, "newcomer's first");
    capsule.hold(List.of(first));
    RecordWithBody second = data(NEWCOMER, first, "newcomer's second");
    append(added, first, second);

    for (RecordWithBody target : List.of(first, added, admin)) {
      ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
      b.add(new Instruction.Prove(b.put(second.hash()), new RecordSelector.ByHash(b.put(target.hash())), -1));
      b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(b.put(target.hash())), 0, b.put(second.hash())));
      List<InstructionOutput> outputs = new ArrayList<>();
      executor.run(b.program(), b.data(), b.meter(), outputs::add);
      RecordProof proof = assertInstanceOf(Output.Proof.class, outputs.get(0).output()).recordProofOrNull();
      assertNotNull(proof);
      assertNotNull(proof.writerEntryOrNull(), "a version-2 target's proof carries its writer's entry");
      // The renter's view: the bytes it receives, parsed and verified; the charge covers them exactly.
      byte[] encoded = outputs.get(0).encodedOutput();
      Output.Proof parsed = (Output.Proof) OutputEncoding.decode(b.program().instructions().get(0), encoded);
      RecordHeader proven = new ProofVerifier(null).verifyRecord(second.hash(), target.hash(), parsed.recordProofOrNull());
      assertEquals(target.record().header(), proven);
      assertEquals(encoded.length + ExecFixture.ENVELOPE, outputs.get(0).charged().maxOutputBytes(),
          "a proof on the primary chain is charged its exact size, entry included");
      Output.SubRecord read = assertInstanceOf(Output.SubRecord.class, outputs.get(1).output());
      new ProofVerifier(null).verifySubRecord(second.hash(), target.hash(), 0, read.payload(), read.proof());
    }
  }
}
