package dev.capsulevm.vm.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleTree;
import dev.capsulevm.vm.exec.ProgramStoppedException.Reason;
import dev.capsulevm.vm.members.MemberCache;
import dev.capsulevm.vm.retention.Retention;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StoragePayment;
import java.nio.charset.StandardCharsets;
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
 * Retention over a store with a ledger (docs/PROTOCOL.md, "Retention"): a run drops the payloads of the
 * data records the policy before the highest head lets go, keeps their headers and leaf hashes, never
 * touches membership records, credits the unused storage to the payer once, and stays within its bounds;
 * a read of a dropped sub-record is an answer a reader verifies from headers alone. An implementation's
 * test extends this class for its store.
 */
public abstract class RetentionContract {
  /** A fresh, empty store with a ledger, whose ledger reads time from {@code clock}. */
  protected abstract ExecutorStoreContract.Store newStore(SettableClock clock) throws Exception;

  static final SigningKey CREATOR = TestCapsule.CREATOR;
  static final SigningKey WRITER = TestCapsule.WRITER;
  static final PublicKey PAYER = ExecFixture.key(0x62).publicKey();
  static final Duration UNIT = Duration.ofHours(1);

  private ExecutorStoreContract.Store store;
  private dev.capsulevm.pricing.Reservations holds;
  private CapsuleStorage storage;
  private SettableClock clock;
  private ScheduledExecutorService scheduler;
  private Executor executor;
  private V2Capsule capsule;
  private final List<RecordWithBody> held = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    clock = new SettableClock(ExecFixture.START);
    store = newStore(clock);
    store.ledger().deposit(PAYER, Amount.ofCap(100_000));
    holds = ExecFixture.holds(store.ledger(), clock);
    storage = store.storage();
    scheduler = Executors.newSingleThreadScheduledExecutor();
    executor = new Executor(storage, clock, Duration.ofHours(1), Duration.ofSeconds(10), ExecFixture.ENVELOPE,
        ExecFixture.HOST, scheduler);
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
    store.close();
  }

  private Retention retention(int maxDrops) {
    return new Retention(storage, new MemberCache(), clock, new Retention.Settings(maxDrops, 4096, UNIT));
  }

  /** Builds (validated, held by the renter) a record on the last one. */
  private RecordWithBody next(RecordWithBody item) throws Exception {
    capsule.appendOne(item);
    held.add(item);
    return item;
  }

  private Hash last() {
    return held.isEmpty() ? capsule.id() : held.get(held.size() - 1).hash();
  }

  private RecordWithBody data(String tag) throws Exception {
    return next(capsule.data(WRITER, List.of(last()), tag));
  }

  private RecordWithBody retain(RetentionPolicy policy) throws Exception {
    return next(capsule.change(CREATOR, List.of(last()), new MemberChange.SetRetention(policy)));
  }

  /** Appends {@code records} in one live program paid from {@link #PAYER}, and confirms it. */
  private void append(List<RecordWithBody> records) throws Exception {
    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(records))));
    PendingCommit pending = assertInstanceOf(PendingCommit.class,
        executor.run(b.program(), b.data(), b.meter(), ExecFixture.payer(holds, clock, PAYER), o -> { }));
    assertFalse(pending.confirm().verify(ExecFixture.HOST.publicKey()).failed());
  }

  /** r1, keep 2 heights (height 2), r3 .. r6: a chain whose highest head is r6. */
  private List<RecordWithBody> keepTwoHeights() throws Exception {
    List<RecordWithBody> chain = new ArrayList<>();
    chain.add(data("r1"));
    chain.add(retain(RetentionPolicy.keepHeights(2)));
    for (int h = 3; h <= 6; h++) {
      chain.add(data("r" + h));
    }
    append(chain);
    return chain;
  }

  private Hash witnessOf(Hash record) throws Exception {
    try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
      return snapshot.droppedWitnessOrNull(record);
    }
  }

  private List<InstructionOutput> read(Hash target, long index, Hash anchor) throws Exception {
    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(b.put(target)), index, b.put(anchor)));
    List<InstructionOutput> outputs = new ArrayList<>();
    executor.run(b.program(), b.data(), b.meter(), outputs::add);
    return outputs;
  }

  @Test
  void aRunDropsThePayloadsPastThePolicyAndKeepsHeadersTreesAndMembershipRecords() throws Exception {
    List<RecordWithBody> chain = keepTwoHeights();
    Hash head = chain.get(5).hash();
    Retention.Run run = retention(256).run(capsule.id());
    assertEquals(3, run.dropped(), "r1, r3 and r4: heights up to 6 - 2");
    assertFalse(run.more());
    try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
      for (int i : new int[] {0, 2, 3}) {
        Hash hash = chain.get(i).hash();
        assertEquals(head, snapshot.droppedWitnessOrNull(hash), "dropped under the highest head");
        assertNull(snapshot.subRecordOrNull(hash, 0));
        assertNull(snapshot.subRecordsOrNull(hash));
        assertNull(snapshot.paymentOrNull(hash), "the payment went with the payloads");
        assertEquals(chain.get(i).record(), snapshot.recordOrNull(hash), "the header and signature stay");
        MerkleTree tree = snapshot.subRecordTreeOrNull(hash);
        assertNotNull(tree);
        assertEquals(chain.get(i).record().header().subRecordRoot(), tree.root());
        assertEquals(Merkle.leafHash(chain.get(i).payloads().get(0)), tree.leafHash(0), "the leaf hash stays");
      }
      for (int i : new int[] {1, 4, 5}) {
        Hash hash = chain.get(i).hash();
        assertNull(snapshot.droppedWitnessOrNull(hash), "kept: " + i);
        assertEquals("r" + (i + 1),
            i == 1 ? "r2" : new String(snapshot.subRecordOrNull(hash, 0), StandardCharsets.UTF_8));
      }
      assertNotNull(snapshot.subRecordOrNull(chain.get(1).hash(), 0), "a membership record is never dropped");
      assertNotNull(snapshot.paymentOrNull(chain.get(4).hash()), "a kept record keeps its payment");
    }
    assertEquals(0, retention(256).run(capsule.id()).dropped(), "nothing left to drop");
  }

  @Test
  void droppingCreditsTheUnusedStorageToThePayerOnce() throws Exception {
    List<RecordWithBody> chain = keepTwoHeights();
    StoragePayment payment;
    try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
      payment = snapshot.paymentOrNull(chain.get(0).hash());
    }
    assertNotNull(payment);
    assertEquals(PAYER, payment.payer());
    assertEquals(10, payment.durationUnits(), "the fixture's meter pays 10 duration units");
    assertEquals(2, payment.pricePerByteUnit(), "the fixture's storage price");
    assertEquals(2, payment.payloadBytes(), "\"r1\"");
    long before = store.ledger().balance(PAYER).units();
    clock.advance(UNIT.multipliedBy(2).plusMinutes(30)); // 3 units begun, 7 unused
    Retention.Run run = retention(256).run(capsule.id());
    long perRecord = 2 * 2 * 7;
    assertEquals(3 * perRecord, run.credited().units());
    assertEquals(before + 3 * perRecord, store.ledger().balance(PAYER).units());
    // Dropping again (a second drop of a dropped record) changes nothing and credits nothing.
    Object dump = store.dump();
    try (Batch batch = storage.newBatch()) {
      batch.dropPayloads(capsule.id(), chain.get(0).hash(), chain.get(5).hash(), PAYER, Amount.of(perRecord));
      batch.commit();
    }
    assertEquals(dump, store.dump());
    assertEquals(before + 3 * perRecord, store.ledger().balance(PAYER).units());
    // Past the paid units nothing is left to give back.
    assertEquals(Amount.of(0), payment.unusedPart(payment.paidAtMillis() + 10 * UNIT.toMillis(), UNIT.toMillis()));
  }

  @Test
  void theStoreRefusesToDropAMembershipRecordOrOneItDoesNotHold() throws Exception {
    List<RecordWithBody> chain = keepTwoHeights();
    Object dump = store.dump();
    StorageException membership = assertThrows(StorageException.class, () -> {
      try (Batch batch = storage.newBatch()) {
        batch.dropPayloads(capsule.id(), chain.get(1).hash(), chain.get(5).hash(), null, Amount.of(0));
        batch.commit();
      }
    });
    assertEquals(StorageException.Reason.NOT_DROPPABLE, membership.reason());
    Hash unknown = Merkle.leafHash(new byte[] {7});
    StorageException absent = assertThrows(StorageException.class, () -> {
      try (Batch batch = storage.newBatch()) {
        batch.dropPayloads(capsule.id(), unknown, chain.get(5).hash(), null, Amount.of(0));
        batch.commit();
      }
    });
    assertEquals(StorageException.Reason.UNKNOWN_RECORD, absent.reason());
    assertTrue(absent.getMessage().contains(unknown.toHex()), absent.getMessage());
    assertEquals(dump, store.dump(), "a refused drop changes nothing");
  }

  @Test
  void aRunIsBoundedAndTheNextOneGoesOn() throws Exception {
    List<RecordWithBody> chain = keepTwoHeights();
    Retention retention = retention(2);
    Retention.Run first = retention.run(capsule.id());
    assertEquals(2, first.dropped());
    assertTrue(first.more());
    Retention.Run second = retention.run(capsule.id());
    assertEquals(1, second.dropped());
    assertFalse(second.more());
    assertNotNull(witnessOf(chain.get(3).hash()));
  }

  @Test
  void keepMillisDropsRecordsOlderThanTheDurationBeforeTheWitness() throws Exception {
    List<RecordWithBody> chain = new ArrayList<>();
    chain.add(retain(RetentionPolicy.keepMillis(60_000)));
    chain.add(data("old"));
    capsule.advanceClock(30_000);
    chain.add(data("middle"));
    capsule.advanceClock(31_000);
    chain.add(data("new"));
    append(chain);
    assertEquals(1, retention(256).run(capsule.id()).dropped(), "only \"old\" is 60 s older than the head");
    assertEquals(chain.get(3).hash(), witnessOf(chain.get(1).hash()));
    assertNull(witnessOf(chain.get(2).hash()));
  }

  @Test
  void withoutAPolicyOrOnAVersion1CapsuleNothingIsDropped() throws Exception {
    List<RecordWithBody> chain = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      chain.add(data("r" + i));
    }
    append(chain);
    assertEquals(0, retention(256).run(capsule.id()).dropped());
    dev.capsulevm.proofs.capsule.CapsuleFixture v1 = new dev.capsulevm.proofs.capsule.CapsuleFixture("retention-v1");
    try (Batch batch = storage.newBatch()) {
      batch.createCapsule(v1.metadata);
      batch.commit();
    }
    assertEquals(0, retention(256).run(v1.id()).dropped());
  }

  @Test
  void aReadOfADroppedSubRecordIsAnAnswerTheReaderVerifies() throws Exception {
    List<RecordWithBody> chain = keepTwoHeights();
    retention(256).run(capsule.id());
    Hash head = chain.get(5).hash();
    RecordWithBody r1 = chain.get(0);

    List<InstructionOutput> outputs = read(r1.hash(), 0, head);
    Output.SubRecordDropped dropped = assertInstanceOf(Output.SubRecordDropped.class, outputs.get(0).output());
    byte[] encoded = outputs.get(0).encodedOutput();
    assertEquals(1, encoded[0], "the dropped flag");
    Instruction read = new Instruction.ReadSubRecord(new RecordSelector.ByHash(new dev.capsulevm.program.DataRef(0, 32)),
        0, new dev.capsulevm.program.DataRef(32, 32));
    Output.SubRecordDropped parsed = (Output.SubRecordDropped) OutputEncoding.decode(read, encoded);
    assertEquals(Merkle.leafHash(r1.payloads().get(0)), parsed.leafHash());
    ProofVerifier.Dropped verified = new ProofVerifier(null).verifyDropped(head, r1.hash(), 0, parsed.leafHash(),
        parsed.proof(), parsed.witnessProof());
    assertEquals(head, verified.witness().hash(), "the anchor itself witnesses");
    assertEquals(RetentionPolicy.keepHeights(2), verified.policy());
    assertEquals(encoded.length + ExecFixture.ENVELOPE, outputs.get(0).charged().maxOutputBytes(),
        "on the primary chain, with the anchor as witness, the charge is exact");

    // A record still held reads as ever, behind the held flag.
    List<InstructionOutput> kept = read(chain.get(4).hash(), 0, head);
    assertEquals(0, kept.get(0).encodedOutput()[0]);
    assertEquals("r5", new String(((Output.SubRecord) kept.get(0).output()).payload(), StandardCharsets.UTF_8));
  }

  @Test
  void anOlderAnchorGetsTheStoredWitnessOrANotFoundThatSaysWhy() throws Exception {
    List<RecordWithBody> chain = keepTwoHeights();
    retention(256).run(capsule.id());
    Hash r6 = chain.get(5).hash();
    // r5 lets r3 go itself (5 - 3 >= 2) ...
    Output.SubRecordDropped byR5 = assertInstanceOf(Output.SubRecordDropped.class,
        read(chain.get(2).hash(), 0, chain.get(4).hash()).get(0).output());
    assertEquals(chain.get(4).hash(), byR5.witnessProof().target().hash());
    // ... not r4 (5 - 4 < 2), and r6, which did, is above it: the host cannot prove the drop from r5.
    ProgramStoppedException stale = assertThrows(ProgramStoppedException.class,
        () -> read(chain.get(3).hash(), 0, chain.get(4).hash()));
    assertEquals(Reason.NOT_FOUND, stale.reason());
    assertTrue(stale.getMessage().contains("dropped under the capsule's retention policy (witness " + r6 + ")")
        && stale.getMessage().contains("read it from a newer head"), stale.getMessage());

    // Keeping more heights later: the new head no longer lets r1 go, but reaches r6, which did.
    List<RecordWithBody> later = List.of(retain(RetentionPolicy.keepHeights(100)), data("r8"));
    append(later);
    Hash r8 = later.get(1).hash();
    Output.SubRecordDropped byR8 = assertInstanceOf(Output.SubRecordDropped.class,
        read(chain.get(0).hash(), 0, r8).get(0).output());
    assertEquals(r6, byR8.witnessProof().target().hash());
    ProofVerifier.Dropped verified = new ProofVerifier(null).verifyDropped(r8, chain.get(0).hash(), 0,
        byR8.leafHash(), byR8.proof(), byR8.witnessProof());
    assertEquals(RetentionPolicy.keepHeights(2), verified.policy(), "the policy before the witness");
  }

  @Test
  void aDroppedClaimWithoutAQualifyingWitnessFailsVerification() throws Exception {
    List<RecordWithBody> chain = keepTwoHeights();
    retention(256).run(capsule.id());
    Hash r6 = chain.get(5).hash();
    ProofGenerator generator = new ProofGenerator(capsule.source, capsule.memberStates());
    RecordWithBody r5 = chain.get(4);
    // A host claiming r5 (kept: 6 - 5 < 2) was dropped, with r6 as witness.
    RecordProof witness = generator.recordProof(r6, r6);
    VerificationException e = assertThrows(VerificationException.class,
        () -> new ProofVerifier(null).verifyDropped(r6, r5.hash(), 0, Merkle.leafHash(r5.payloads().get(0)),
            generator.subRecordProof(r6, r5.hash(), 0, r5.tree()), witness));
    assertEquals(VerificationException.Failure.NOT_DROPPABLE, e.failure());
    // ... or the membership record, never dropped.
    RecordWithBody change = chain.get(1);
    VerificationException never = assertThrows(VerificationException.class,
        () -> new ProofVerifier(null).verifyDropped(r6, change.hash(), 0, Merkle.leafHash(change.payloads().get(0)),
            generator.subRecordProof(r6, change.hash(), 0, change.tree()), witness));
    assertEquals(VerificationException.Failure.NOT_DROPPABLE, never.failure());
  }
}
