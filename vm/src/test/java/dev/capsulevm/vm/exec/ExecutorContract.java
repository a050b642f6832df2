package dev.capsulevm.vm.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.BudgetExceededException;
import dev.capsulevm.pricing.CostModel;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.vm.exec.ProgramStoppedException.Reason;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The executor's behaviour over any {@link CapsuleStorage}. An implementation's test extends this class,
 * supplies fresh, empty storages and releases them afterwards; every snapshot the executor or this suite
 * opened is closed by then, so a storage that refuses to close with snapshots open reports a leak.
 */
public abstract class ExecutorContract {
  /** A fresh, empty storage; called once per test for the executor and again for throwaway storages. */
  protected abstract CapsuleStorage newStorage() throws Exception;

  /** Releases every storage {@link #newStorage()} returned for the finished test (after the executor stops). */
  protected void releaseStorages() throws Exception {}

  private CapsuleStorage storage;
  private ScheduledExecutorService scheduler;
  private SettableClock clock;
  private Executor executor;

  @BeforeEach
  void setUp() throws Exception {
    storage = newStorage();
    scheduler = Executors.newSingleThreadScheduledExecutor();
    clock = new SettableClock(ExecFixture.START);
    executor = new Executor(storage, clock, Duration.ofHours(1), Duration.ofSeconds(10), ExecFixture.ENVELOPE, ExecFixture.HOST, scheduler);
  }

  @AfterEach
  void tearDown() throws Exception {
    scheduler.shutdownNow();
    assertTrue(scheduler.awaitTermination(30, TimeUnit.SECONDS), "the scheduler stopped");
    releaseStorages();
  }

  private static InstructionOutput[] collect(List<InstructionOutput> list) {
    return list.toArray(new InstructionOutput[0]);
  }

  private void commit(CapsuleFixture capsule, RecordWithBody... records) throws Exception {
    try (Batch batch = storage.newBatch()) {
      if (!storage.hasCapsule(capsule.id())) {
        batch.createCapsule(capsule.metadata);
      }
      for (RecordWithBody record : records) {
        batch.putRecord(record);
      }
      batch.commit();
    }
  }

  private List<Hash> committedHeads(Hash capsuleId) throws Exception {
    try (Snapshot snapshot = storage.openSnapshot(capsuleId)) {
      return snapshot.heads();
    }
  }

  private static Receipt verified(SignedReceipt receipt) throws Exception {
    return receipt.verify(ExecFixture.HOST.publicKey());
  }

  /**
   * The stopped program's receipt, after checking that it states the failure the exception reports: the
   * instruction, the reason's wire number and the message, so the host can send the one as the other.
   */
  static Receipt failedReceipt(ProgramStoppedException e) throws Exception {
    SignedReceipt signed = e.receiptOrNull();
    assertNotNull(signed, "a stopped program's receipt");
    Receipt receipt = signed.verify(ExecFixture.HOST.publicKey());
    assertTrue(receipt.failed());
    assertEquals(e.instructionIndex(), receipt.failedInstruction(), "failed instruction");
    assertEquals(e.reason().wireNumber(), receipt.failureReason(), "failure reason");
    assertEquals(e.getMessage(), receipt.failureMessage(), "failure message");
    assertEquals(List.of(), receipt.committedHeads());
    return receipt;
  }

  /** Checks each output's canonical bytes and transcript leaf against the instruction it answers. */
  private static void assertTranscriptLeaves(Program program, List<InstructionOutput> outputs, byte[] data) {
    for (InstructionOutput o : outputs) {
      byte[] encoded = OutputEncoding.encode(o.output());
      assertArrayEquals(encoded, o.encodedOutput(), "output " + o.index());
      Instruction instruction = program.instructions().get(o.index());
      List<byte[]> inputs = new ArrayList<>();
      for (DataRef ref : instruction.refs()) {
        inputs.add(Arrays.copyOfRange(data, (int) ref.offset(), (int) (ref.offset() + ref.length())));
      }
      assertEquals(Transcript.leaf(o.index(), instruction, inputs, encoded), o.transcriptLeaf(), "leaf " + o.index());
      assertTrue(encoded.length + ExecFixture.ENVELOPE <= o.charged().maxOutputBytes(), "bound " + o.index());
    }
  }

  @Test
  void createsAppendsReadsAndProvesWithVerifiableOutputs() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-full");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 3);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    RecordWithBody r3 = f.record(r2.hash(), "three");
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    DataRef anchor = b.put(r3.hash());
    DataRef r1Hash = b.put(r1.hash());
    b.add(new Instruction.CreateCapsule(b.put(f.metadata.encoded())))
        .add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(r1, r2)))))
        .add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(r3)))))
        .add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(r1Hash), 2, anchor))
        .add(Instruction.Prove.record(anchor, new RecordSelector.ByHeight(2)))
        .add(new Instruction.Prove(anchor, new RecordSelector.ByHash(r1Hash), 1))
        .add(new Instruction.Heads());
    List<InstructionOutput> outputs = new ArrayList<>();
    Outcome outcome = executor.run(b.program(), b.data(), b.meter(), outputs::add);
    PendingCommit pending = assertInstanceOf(PendingCommit.class, outcome);
    assertFalse(storage.hasCapsule(f.id()), "nothing is visible before confirm");
    assertEquals(List.of(r3.hash()), pending.proposedHeads());

    assertEquals(7, outputs.size());
    Amount previous = Amount.ZERO;
    for (int i = 0; i < outputs.size(); i++) {
      assertEquals(i, outputs.get(i).index());
      assertTrue(outputs.get(i).costSoFar().units() > previous.units());
      previous = outputs.get(i).costSoFar();
    }
    assertEquals(new Output.CapsuleCreated(f.id()), outputs.get(0).output());
    assertEquals(List.of(r2.hash()), ((Output.Appended) outputs.get(1).output()).proposedHeads());
    assertEquals(List.of(r3.hash()), ((Output.Appended) outputs.get(2).output()).proposedHeads());

    ProofVerifier verifier = new ProofVerifier(null);
    Output.SubRecord sub = (Output.SubRecord) outputs.get(3).output();
    assertArrayEquals(r1.payloads().get(2), sub.payload());
    verifier.verifySubRecord(r3.hash(), r1.hash(), 2, sub.payload(), sub.proof());

    Output.Proof recordProof = (Output.Proof) outputs.get(4).output();
    assertEquals(r2.record().header(), verifier.verifyRecord(r3.hash(), r2.hash(), recordProof.recordProofOrNull()));

    Output.Proof subProof = (Output.Proof) outputs.get(5).output();
    verifier.verifySubRecord(r3.hash(), r1.hash(), 1, r1.payloads().get(1), subProof.subRecordProofOrNull());

    assertEquals(List.of(r3.record()), ((Output.Heads) outputs.get(6).output()).heads());
    assertTranscriptLeaves(b.program(), outputs, b.bytes());

    Receipt receipt = verified(pending.confirm());
    assertFalse(receipt.failed());
    assertEquals(7, receipt.instructionsCharged());
    assertEquals(f.id(), receipt.capsuleIdOrNull(), "the receipt names the program's capsule");
    assertEquals(List.of(r3.hash()), receipt.committedHeads(), "the receipt states the heads committed");
    assertEquals(0, receipt.outputCount(), "the executor charges no output: its consumer does, as it sends");
    assertEquals(List.of(r3.hash()), committedHeads(f.id()));
    assertEquals(receipt, verified(pending.confirm()), "confirm again returns the same receipt");
  }

  @Test
  void aFailingInstructionKeepsNothingAndDeliversEarlierOutputs() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-fail");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    commit(f, r1);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    RecordWithBody orphanParent = f.record(r2.hash(), "never-appended");
    RecordWithBody orphan = f.record(orphanParent.hash(), "orphan");
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(r2)))))
        .add(new Instruction.Heads())
        .add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(orphan)))))
        .add(new Instruction.Heads());
    List<InstructionOutput> outputs = new ArrayList<>();
    AtomicLong refunded = new AtomicLong();
    long budget = Amount.ofCap(1000).units();
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
        () -> executor.run(b.program(), b.data(), b.meter(budget, refunded), outputs::add));
    assertEquals(Reason.INVALID_INPUT, e.reason());
    assertEquals(2, e.instructionIndex());
    assertEquals(2, outputs.size());
    assertEquals(List.of(r2.record()), ((Output.Heads) outputs.get(1).output()).heads());
    assertEquals(List.of(r1.hash()), committedHeads(f.id()));
    Receipt receipt = failedReceipt(e);
    assertEquals(3, receipt.failureReason(), "INVALID_INPUT is FailureReason 3");
    assertTrue(receipt.failureMessage().startsWith("instruction 2: "), receipt.failureMessage());
    assertEquals(budget, refunded.get() + receipt.finalCost().units());
    assertEquals(Amount.ZERO, receipt.cost().storage(), "the storage part is refunded");

    // The write permit was released: the next read-write program runs and commits.
    ExecFixture.Builder again = new ExecFixture.Builder(f.id());
    again.add(new Instruction.AppendRecord(again.put(AppendEncoding.encode(List.of(r2)))));
    PendingCommit pending = (PendingCommit) executor.run(again.program(), again.data(), again.meter(), o -> { });
    pending.confirm();
    assertEquals(List.of(r2.hash()), committedHeads(f.id()));
  }

  private PendingCommit appendPending(Executor on, CapsuleFixture f, RecordWithBody record) throws Exception {
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(record)))));
    return (PendingCommit) on.run(b.program(), b.data(), b.meter(), o -> { });
  }

  @Test
  void refuseDiscardsEverything() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-refuse");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    commit(f, r1);
    PendingCommit pending = appendPending(executor, f, f.record(r1.hash(), "two"));
    Receipt receipt = verified(pending.refuse());
    assertTrue(receipt.failed());
    assertFalse(pending.isPending());
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class, pending::confirm);
    assertEquals(Reason.REFUSED, e.reason());
    assertEquals(receipt, failedReceipt(e));
    assertEquals(ProgramStoppedException.NO_INSTRUCTION, receipt.failedInstruction());
    assertEquals(List.of(r1.hash()), committedHeads(f.id()));
  }

  @Test
  void aConfirmAfterTheDeadlineIsRefused() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-late");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    commit(f, r1);
    PendingCommit pending = appendPending(executor, f, f.record(r1.hash(), "two"));
    clock.advance(Duration.ofHours(2));
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class, pending::confirm);
    assertEquals(Reason.EXPIRED, e.reason());
    assertEquals(8, failedReceipt(e).failureReason(), "EXPIRED is FailureReason 8");
    assertEquals(List.of(r1.hash()), committedHeads(f.id()));
  }

  @Test
  void anUnansweredCommitExpiresAndReleasesTheCapsule() throws Exception {
    Executor quick = new Executor(storage, Clock.systemUTC(), Duration.ofMillis(1), Duration.ofSeconds(10), ExecFixture.ENVELOPE,
        ExecFixture.HOST, scheduler);
    CapsuleFixture f = new CapsuleFixture("exec-expire");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    commit(f, r1);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    PendingCommit first = appendPending(quick, f, r2);
    // Blocks on the capsule's write permit until the scheduler discards the first commit.
    PendingCommit second = appendPending(quick, f, r2);
    assertFalse(first.isPending());
    ProgramStoppedException expired = assertThrows(ProgramStoppedException.class, first::confirm);
    assertEquals(Reason.EXPIRED, expired.reason());
    failedReceipt(expired);
    second.refuse();
    assertEquals(List.of(r1.hash()), committedHeads(f.id()));
  }

  @Test
  void budgetExhaustionRefusesTheInstructionBeforeItRuns() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-budget");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    b.add(new Instruction.CreateCapsule(b.put(f.metadata.encoded())))
        .add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(r1)))));
    // Learn what the first instruction costs, on throwaway storage.
    List<InstructionOutput> probe = new ArrayList<>();
    Executor other = new Executor(newStorage(), clock, Duration.ofHours(1), Duration.ofSeconds(10), ExecFixture.ENVELOPE,
        ExecFixture.HOST, scheduler);
    ((PendingCommit) other.run(b.program(), b.data(), b.meter(), probe::add)).refuse();
    long budget = probe.get(0).costSoFar().units() + 1;

    List<InstructionOutput> outputs = new ArrayList<>();
    AtomicLong refunded = new AtomicLong();
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
        () -> executor.run(b.program(), b.data(), b.meter(budget, refunded), outputs::add));
    assertEquals(Reason.BUDGET, e.reason());
    assertEquals(1, e.instructionIndex());
    assertEquals(1, outputs.size());
    assertFalse(storage.hasCapsule(f.id()), "the staged creation is discarded");
    Receipt receipt = failedReceipt(e);
    assertEquals(1, receipt.instructionsCharged());
    assertEquals(budget, refunded.get() + receipt.finalCost().units());
  }

  @Test
  void readOnlyProgramsRunInParallelWithAWriterOnTheirOwnSnapshots() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-parallel");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    commit(f, r1);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    CountDownLatch writerStaged = new CountDownLatch(1);
    CountDownLatch readersDone = new CountDownLatch(1);
    ExecFixture.Builder w = new ExecFixture.Builder(f.id());
    w.add(new Instruction.AppendRecord(w.put(AppendEncoding.encode(List.of(r2)))));
    CompletableFuture<Outcome> writer = CompletableFuture.supplyAsync(() -> {
      try {
        return executor.run(w.program(), w.data(), w.meter(), o -> {
          writerStaged.countDown();
          await(readersDone);
        });
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    assertTrue(writerStaged.await(30, TimeUnit.SECONDS));

    // Two readers while the writer holds the capsule: the first waits inside its consumer for the second.
    CountDownLatch secondDone = new CountDownLatch(1);
    ExecFixture.Builder r = new ExecFixture.Builder(f.id());
    r.add(new Instruction.Heads());
    CompletableFuture<List<InstructionOutput>> firstReader = CompletableFuture.supplyAsync(() -> {
      List<InstructionOutput> seen = new ArrayList<>();
      try {
        executor.run(r.program(), r.data(), r.meter(), o -> {
          seen.add(o);
          await(secondDone);
        });
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
      return seen;
    });
    List<InstructionOutput> second = new ArrayList<>();
    Outcome secondOutcome = executor.run(r.program(), r.data(), r.meter(), second::add);
    secondDone.countDown();
    assertInstanceOf(Outcome.Finished.class, secondOutcome);
    assertEquals(List.of(r1.record()), ((Output.Heads) second.get(0).output()).heads());
    assertEquals(List.of(r1.record()),
        ((Output.Heads) firstReader.get(30, TimeUnit.SECONDS).get(0).output()).heads());

    readersDone.countDown();
    ((PendingCommit) writer.get(30, TimeUnit.SECONDS)).confirm();
    List<InstructionOutput> after = new ArrayList<>();
    executor.run(r.program(), r.data(), r.meter(), after::add);
    assertEquals(List.of(r2.record()), ((Output.Heads) after.get(0).output()).heads());
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("latch timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Test
  void hasRecordAndReadByHashWorkAcrossCapsulesWithoutASnapshot() throws Exception {
    CapsuleFixture a = new CapsuleFixture("exec-a");
    CapsuleFixture c = new CapsuleFixture("exec-c");
    RecordWithBody ra = a.record(List.of(a.id()), "a", 2);
    RecordWithBody rc = c.record(List.of(c.id()), "c", 3);
    commit(a, ra);
    commit(c, rc);
    ExecFixture.Builder b = new ExecFixture.Builder(null);
    DataRef unknown = b.put(new byte[32]);
    b.add(new Instruction.HasRecord(b.put(ra.hash())))
        .add(new Instruction.HasRecord(unknown))
        .add(new Instruction.ReadByHash(b.put(rc.hash())))
        .add(new Instruction.ReadByHash(unknown));
    List<InstructionOutput> outputs = new ArrayList<>();
    Outcome outcome = executor.run(b.program(), b.data(), b.meter(), outputs::add);
    Receipt receipt = verified(((Outcome.Finished) outcome).receipt());
    assertFalse(receipt.failed());
    assertNull(receipt.capsuleIdOrNull());
    assertTranscriptLeaves(b.program(), outputs, b.bytes());
    // Charged exactly: the real output of a held record, the absent flag alone for one not held.
    for (InstructionOutput o : outputs) {
      assertEquals(o.encodedOutput().length + ExecFixture.ENVELOPE, o.charged().maxOutputBytes(), "output " + o.index());
    }
    assertEquals(1 + 4 + ra.record().header().encodedLength() + ExecFixture.ENVELOPE,
        outputs.get(0).charged().maxOutputBytes());
    assertEquals(1 + ExecFixture.ENVELOPE, outputs.get(1).charged().maxOutputBytes());
    assertEquals(1 + 4 + rc.record().header().encodedLength() + 1 + 64 + 8 + ExecFixture.ENVELOPE,
        outputs.get(2).charged().maxOutputBytes());
    assertEquals(1 + ExecFixture.ENVELOPE, outputs.get(3).charged().maxOutputBytes());
    assertEquals(new Output.Has(true, ra.record().header()), outputs.get(0).output());
    assertEquals(new Output.Has(false, null), outputs.get(1).output());
    assertEquals(new Output.ByHash(rc.record(), 3), outputs.get(2).output());
    Output.ByHash missing = (Output.ByHash) outputs.get(3).output();
    assertNull(missing.recordOrNull());
    assertEquals(0, missing.subRecordCount());
  }

  @Test
  void anAmbiguousHeightIsRefused() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-fork");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    RecordWithBody left = f.record(r1.hash(), "left");
    RecordWithBody right = f.record(r1.hash(), "right");
    commit(f, r1, left, right);
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    b.add(Instruction.Prove.record(b.put(left.hash()), new RecordSelector.ByHeight(2)));
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
        () -> executor.run(b.program(), b.data(), b.meter(), o -> { }));
    assertEquals(Reason.AMBIGUOUS, e.reason());
    failedReceipt(e);
  }

  @Test
  void missingProgramDataStopsTheProgramAfterEarlierOutputs() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-data");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    commit(f, r1);
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    b.add(new Instruction.Heads()).add(new Instruction.HasRecord(b.put(r1.hash())));
    dev.capsulevm.vm.ProgramData data = new dev.capsulevm.vm.ProgramData(b.program().dataLength(), 64);
    List<InstructionOutput> outputs = new ArrayList<>();
    data.fail("the renter went away");
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
        () -> executor.run(b.program(), data, b.meter(), outputs::add));
    assertEquals(Reason.DATA, e.reason());
    assertEquals(1, e.instructionIndex());
    assertEquals(1, outputs.size());
    failedReceipt(e);
  }

  @Test
  void instructionsRunAsTheirBytesArriveAndReleaseWhatIsNoLongerReferenced() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-stream");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    commit(f, r1, r2);
    ExecFixture.Builder b = new ExecFixture.Builder(null);
    b.add(new Instruction.HasRecord(b.put(r1.hash()))).add(new Instruction.HasRecord(b.put(r2.hash())));
    // The buffer holds one hash: the second can only arrive once the first is released.
    dev.capsulevm.vm.ProgramData data = new dev.capsulevm.vm.ProgramData(64, 32);
    data.append(r1.hash().toByteArray());
    CountDownLatch firstOutput = new CountDownLatch(1);
    List<InstructionOutput> outputs = new java.util.concurrent.CopyOnWriteArrayList<>();
    CompletableFuture<Outcome> run = CompletableFuture.supplyAsync(() -> {
      try {
        return executor.run(b.program(), data, b.meter(), o -> {
          outputs.add(o);
          firstOutput.countDown();
        });
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    assertTrue(firstOutput.await(30, TimeUnit.SECONDS), "the first instruction ran before the rest arrived");
    assertTrue(data.awaitRoom(32, Duration.ofSeconds(30)), "its bytes were released");
    data.append(r2.hash().toByteArray());
    assertInstanceOf(Outcome.Finished.class, run.get(30, TimeUnit.SECONDS));
    assertEquals(new Output.Has(true, r2.record().header()), outputs.get(1).output());
  }

  @Test
  void aCommitStorageRefusesAppliesNothingAndRefundsStorage() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-twice");
    ExecFixture.Builder b = new ExecFixture.Builder(null);
    b.add(new Instruction.CreateCapsule(b.put(f.metadata.encoded())));
    // Programs naming no capsule take no permit, so both creations stage; storage refuses the second.
    PendingCommit first = (PendingCommit) executor.run(b.program(), b.data(), b.meter(), o -> { });
    PendingCommit second = (PendingCommit) executor.run(b.program(), b.data(), b.meter(), o -> { });
    assertFalse(verified(first.confirm()).failed());
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class, second::confirm);
    assertEquals(Reason.STORAGE, e.reason());
    Receipt receipt = failedReceipt(e);
    assertEquals(Amount.ZERO, receipt.cost().storage());
    assertTrue(storage.hasCapsule(f.id()));
    assertEquals(List.of(), committedHeads(f.id()));
  }

  @Test
  void aConsumerChargingEachOutputAsItSendsItGetsTheirTranscriptInTheReceipt() throws Exception {
    CapsuleFixture f = new CapsuleFixture("exec-transcript");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 2);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    commit(f, r1, r2);
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    DataRef anchor = b.put(r2.hash());
    b.add(new Instruction.Heads())
        .add(new Instruction.Metadata())
        .add(new Instruction.HasRecord(b.put(r1.hash())))
        .add(Instruction.Prove.record(anchor, new RecordSelector.ByHeight(1)));
    Meter meter = b.meter();
    Transcript seen = new Transcript();
    Outcome outcome = executor.run(b.program(), b.data(), meter, o -> {
      try {
        meter.chargeOutput(o.encodedOutput().length + ExecFixture.ENVELOPE, o.transcriptLeaf());
      } catch (BudgetExceededException e) {
        throw new AssertionError(e);
      }
      seen.add(o.transcriptLeaf());
    });
    Receipt receipt = verified(((Outcome.Finished) outcome).receipt());
    assertEquals(4, receipt.outputCount());
    assertEquals(seen.root(), receipt.transcriptRoot());
    assertEquals(f.id(), receipt.capsuleIdOrNull());
    assertEquals(List.of(), receipt.committedHeads(), "a read-only program commits nothing");
  }

  @Test
  void metadataReturnsTheCapsulesSignedMetadataCommittedOrStagedAndIsChargedExactly() throws Exception {
    CapsuleFixture held = new CapsuleFixture("exec-metadata-held");
    commit(held);
    ExecFixture.Builder b = new ExecFixture.Builder(held.id());
    b.add(new Instruction.Metadata());
    List<InstructionOutput> outputs = new ArrayList<>();
    assertInstanceOf(Outcome.Finished.class, executor.run(b.program(), b.data(), b.meter(), outputs::add));
    Output.Metadata out = (Output.Metadata) outputs.get(0).output();
    assertArrayEquals(held.metadata.encoded(), out.signedMetadata().encoded());
    assertEquals(4 + held.metadata.encoded().length + ExecFixture.ENVELOPE, outputs.get(0).charged().maxOutputBytes());
    assertEquals(outputs.get(0).encodedOutput().length + ExecFixture.ENVELOPE, outputs.get(0).charged().maxOutputBytes());
    assertTranscriptLeaves(b.program(), outputs, b.bytes());

    // A capsule created earlier in the same program: its staged metadata.
    CapsuleFixture fresh = new CapsuleFixture("exec-metadata-staged");
    ExecFixture.Builder create = new ExecFixture.Builder(fresh.id());
    create.add(new Instruction.CreateCapsule(create.put(fresh.metadata.encoded()))).add(new Instruction.Metadata());
    List<InstructionOutput> staged = new ArrayList<>();
    PendingCommit pending = (PendingCommit) executor.run(create.program(), create.data(), create.meter(), staged::add);
    assertArrayEquals(fresh.metadata.encoded(), ((Output.Metadata) staged.get(1).output()).signedMetadata().encoded());
    pending.refuse();
  }

  @Test
  void metadataOfACapsuleNotHeldIsNotFoundAndItsReceiptSaysSo() throws Exception {
    CapsuleFixture absent = new CapsuleFixture("exec-metadata-absent");
    ExecFixture.Builder b = new ExecFixture.Builder(absent.id());
    b.add(new Instruction.Metadata());
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
        () -> executor.run(b.program(), b.data(), b.meter(), o -> { }));
    assertEquals(Reason.NOT_FOUND, e.reason());
    assertEquals(0, e.instructionIndex());
    Receipt receipt = failedReceipt(e);
    assertEquals(4, receipt.failureReason(), "NOT_FOUND is FailureReason 4");
    assertEquals(absent.id(), receipt.capsuleIdOrNull());
  }

  /**
   * docs/FORMAT.md's failed receipt example as the executor runs it: a HasRecord of a record the host
   * does not hold answers "absent" with a bound of 1 + envelope; a Prove of that record from itself is
   * charged for its two 32-byte references and a bound of 0 + envelope, then fails NOT_FOUND naming it.
   */
  @Test
  void aProofOfARecordNotHeldIsChargedThenNotFoundAsTheFormatExampleSays() throws Exception {
    CapsuleFixture held = new CapsuleFixture("exec-format-failed-example");
    commit(held);
    Hash missing = new CapsuleFixture("a record this host does not hold").id();
    ExecFixture.Builder b = new ExecFixture.Builder(held.id());
    DataRef ref = b.put(missing);
    b.add(new Instruction.HasRecord(ref)).add(new Instruction.Prove(ref, new RecordSelector.ByHash(ref), -1));
    List<InstructionOutput> outputs = new ArrayList<>();
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
        () -> executor.run(b.program(), b.data(), b.meter(), outputs::add));
    InstructionDescriptor has = new InstructionDescriptor(InstructionKind.HAS_RECORD, Hash.LENGTH,
        1 + ExecFixture.ENVELOPE, 0);
    InstructionDescriptor prove = new InstructionDescriptor(InstructionKind.PROVE, 2L * Hash.LENGTH,
        ExecFixture.ENVELOPE, 0);
    assertEquals(1, outputs.size());
    assertEquals(has, outputs.get(0).charged());
    assertEquals(Reason.NOT_FOUND, e.reason());
    assertEquals(1, e.instructionIndex());
    Receipt receipt = failedReceipt(e);
    assertEquals(2, receipt.instructionsCharged());
    assertEquals(4, receipt.failureReason());
    assertEquals("instruction 1: no record " + missing, receipt.failureMessage());
    CostModel model = CostModel.of(ExecFixture.table());
    // ExecFixture's meters charge the start of a 100-byte program.
    assertEquals(model.programCost(100).plus(model.instructionCost(has)).plus(model.instructionCost(prove)),
        receipt.cost().instruction());
    assertEquals(model.memoryCost(has).plus(model.memoryCost(prove)), receipt.cost().memory());
  }
}
