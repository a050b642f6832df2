package dev.capsulevm.vm.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.ProgramData;
import dev.capsulevm.vm.exec.ProgramStoppedException.Reason;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StorageException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The executor over a store that keeps a ledger: atomicity (a program failing at any instruction leaves
 * a full dump of the store unchanged), every kind of bad input with its own error and nothing changed,
 * concurrency (readers on snapshots during writers; many writers losing nothing), and the refund of a
 * confirmed program committed with its writes. An implementation's test extends this class and supplies
 * a fresh store with its ledger and a full dump of everything it holds (the ledger included).
 */
public abstract class ExecutorStoreContract {
  /** A store under test: its storage, the ledger its batches credit, and a dump of every stored byte. */
  public interface Store extends AutoCloseable {
    CapsuleStorage storage();

    Ledger ledger();

    /** Everything the store holds (the ledger included), comparable with {@code equals}. */
    Object dump();

    @Override
    void close();

    /** A store of these parts. */
    static Store of(CapsuleStorage storage, Ledger ledger, Supplier<Object> dump, Runnable close) {
      return new Store() {
        @Override
        public CapsuleStorage storage() {
          return storage;
        }

        @Override
        public Ledger ledger() {
          return ledger;
        }

        @Override
        public Object dump() {
          return dump.get();
        }

        @Override
        public void close() {
          close.run();
        }
      };
    }
  }

  /** A fresh, empty store whose ledger reads time from {@code clock}. */
  protected abstract Store newStore(Clock clock) throws Exception;

  private static final PublicKey PAYER = ExecFixture.key(0x61).publicKey();

  private Store store;
  private Reservations holds;
  private CapsuleStorage storage;
  private ScheduledExecutorService scheduler;
  private SettableClock clock;
  private Executor executor;

  @BeforeEach
  void setUp() throws Exception {
    clock = new SettableClock(ExecFixture.START);
    store = newStore(clock);
    holds = ExecFixture.holds(store.ledger(), clock);
    storage = store.storage();
    scheduler = Executors.newSingleThreadScheduledExecutor();
    executor = new Executor(storage, clock, Duration.ofHours(1), Duration.ofSeconds(10), ExecFixture.ENVELOPE, ExecFixture.HOST, scheduler);
  }

  @AfterEach
  void tearDown() throws Exception {
    scheduler.shutdownNow();
    assertTrue(scheduler.awaitTermination(30, TimeUnit.SECONDS), "the scheduler stopped");
    store.close();
  }

  // ---- helpers

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

  /** A budget of {@link ExecFixture#BUDGET} held from {@link #PAYER}. */
  private Reservation payer() throws Exception {
    return ExecFixture.payer(holds, clock, PAYER);
  }

  private List<Hash> committedHeads(Hash capsuleId) throws Exception {
    try (Snapshot snapshot = storage.openSnapshot(capsuleId)) {
      return snapshot.heads();
    }
  }

  private static DataRef append(ExecFixture.Builder b, RecordWithBody... records) {
    return b.put(AppendEncoding.encode(List.of(records)));
  }

  /** Runs {@code b} expecting a failure; its refund goes to a counter, never to the store's ledger. */
  private ProgramStoppedException fails(ExecFixture.Builder b, ProgramData data, Meter meter) {
    return fails(b, data, meter, o -> { });
  }

  private ProgramStoppedException fails(ExecFixture.Builder b, ProgramData data, Meter meter,
      Consumer<InstructionOutput> consumer) {
    return assertThrows(ProgramStoppedException.class, () -> {
      Outcome outcome = executor.run(b.program(), data, meter, consumer);
      if (outcome instanceof PendingCommit pending) {
        pending.refuse();
      }
    });
  }

  /** The committed state the failure tests start from. */
  private final class World {
    final CapsuleFixture f = new CapsuleFixture("store-world");
    final CapsuleFixture other = new CapsuleFixture("store-other");
    final CapsuleFixture fresh = new CapsuleFixture("store-fresh");
    final RecordWithBody r1 = f.record(List.of(f.id()), "one", 3);
    final RecordWithBody left = f.record(r1.hash(), "left");
    final RecordWithBody right = f.record(r1.hash(), "right");
    final RecordWithBody merge = f.record(List.of(left.hash(), right.hash()), "merge", 2);
    final RecordWithBody next = f.record(merge.hash(), "next");
    final RecordWithBody o1 = other.record(List.of(other.id()), "other", 1);

    World() throws Exception {
      commit(f, r1, left, right);
      commit(other, o1);
      store.ledger().deposit(PAYER, Amount.ofCap(100_000));
    }
  }

  /** The valid instructions a failing program runs before its failing one. */
  private static List<Consumer<ExecFixture.Builder>> validPrefix(World w) {
    return List.of(
        b -> b.add(new Instruction.CreateCapsule(b.put(w.fresh.metadata.encoded()))),
        b -> b.add(new Instruction.AppendRecord(append(b, w.merge))),
        b -> b.add(new Instruction.AppendRecord(append(b, w.next))),
        b -> b.add(new Instruction.Heads()),
        b -> b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(b.put(w.next.hash())), 1,
            b.put(w.next.hash()))));
  }

  private enum Kind { INVALID_INPUT, BAD_SIGNATURE, NOT_FOUND, AMBIGUOUS, STORAGE, BUDGET, DATA }

  // ---- atomicity

  @Test
  void aProgramFailingAtAnyInstructionLeavesTheWholeStoreAsItWas() throws Exception {
    World w = new World();
    Object before = store.dump();
    List<Consumer<ExecFixture.Builder>> prefix = validPrefix(w);
    RecordWithBody orphanParent = w.f.record(w.next.hash(), "never");
    RecordWithBody orphan = w.f.record(orphanParent.hash(), "orphan");
    for (Kind kind : Kind.values()) {
      for (int k = 0; k <= prefix.size(); k++) {
        ExecFixture.Builder b = new ExecFixture.Builder(w.f.id());
        for (int i = 0; i < k; i++) {
          prefix.get(i).accept(b);
        }
        int cut = b.size();
        AtomicLong refunded = new AtomicLong();
        long budget = Amount.ofCap(1000).units();
        ProgramData data = null;
        Consumer<InstructionOutput> consumer = o -> { };
        switch (kind) {
          case INVALID_INPUT -> b.add(new Instruction.AppendRecord(append(b, orphan)));
          case BAD_SIGNATURE -> b.add(new Instruction.AppendRecord(
              append(b, CapsuleFixture.withBadSignature(k >= 2 ? w.f.record(w.merge.hash(), "x" + k) : w.merge))));
          case NOT_FOUND -> b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(b.put(w.r1.hash())), 99,
              b.put(w.r1.hash())));
          case AMBIGUOUS -> b.add(Instruction.Prove.record(b.put(w.left.hash()), new RecordSelector.ByHeight(2)));
          case STORAGE -> b.add(new Instruction.CreateCapsule(b.put(w.other.metadata.encoded())));
          case BUDGET -> {
            budget = costOfPrefix(b, k) + 1;
            b.add(new Instruction.Heads());
          }
          case DATA -> {
            b.add(new Instruction.HasRecord(b.put(w.r1.hash())));
            data = new ProgramData(b.program().dataLength(), Math.max(1, b.program().dataLength()));
            if (cut > 0) {
              data.append(Arrays.copyOf(b.bytes(), cut));
            }
            // The renter goes away once instruction k - 1 has answered (at once for k = 0).
            ProgramData failing = data;
            if (k == 0) {
              failing.fail("the renter went away");
            }
            int last = k - 1;
            consumer = o -> {
              if (o.index() == last) {
                failing.fail("the renter went away");
              }
            };
          }
          default -> throw new AssertionError(kind);
        }
        String where = kind + " at instruction " + k;
        Meter meter = b.meter(budget, refunded);
        ProgramStoppedException e = fails(b, data != null ? data : b.data(), meter, consumer);
        Reason expected = switch (kind) {
          case BAD_SIGNATURE -> Reason.INVALID_INPUT;
          default -> Reason.valueOf(kind.name());
        };
        assertEquals(expected, e.reason(), where + ": " + e.getMessage());
        assertEquals(k, e.instructionIndex(), where);
        Receipt receipt = ExecutorContract.failedReceipt(e);
        assertEquals(budget, refunded.get() + receipt.finalCost().units(), where + ": refunded exactly once");
        assertEquals(before, store.dump(), where + " left the store changed");
      }
    }
    // The capsule's write permit was released every time: a valid program still commits.
    ExecFixture.Builder b = new ExecFixture.Builder(w.f.id());
    prefix.forEach(p -> p.accept(b));
    ((PendingCommit) executor.run(b.program(), b.data(), b.meter(), o -> { })).confirm();
    assertEquals(List.of(w.next.hash()), committedHeads(w.f.id()));
    assertTrue(storage.hasCapsule(w.fresh.id()));
  }

  /** What the instructions already in {@code b} cost, learned by running them and refusing the commit. */
  private long costOfPrefix(ExecFixture.Builder b, int k) throws Exception {
    if (k == 0) {
      return b.meter().charged().total().units();
    }
    Outcome outcome = executor.run(b.program(), b.data(), b.meter(), o -> { });
    if (outcome instanceof PendingCommit pending) {
      Amount cost = pending.costSoFar();
      pending.refuse();
      return cost.units();
    }
    return ((Outcome.Finished) outcome).receipt().verify(ExecFixture.HOST.publicKey()).finalCost().units();
  }

  @Test
  void refusedAndExpiredCommitsLeaveTheWholeStoreAsItWas() throws Exception {
    World w = new World();
    Object before = store.dump();
    ExecFixture.Builder b = new ExecFixture.Builder(w.f.id());
    validPrefix(w).forEach(p -> p.accept(b));
    PendingCommit refused = (PendingCommit) executor.run(b.program(), b.data(), b.meter(), payer(),
        o -> { });
    refused.refuse();
    assertEquals(before, store.dump(), "a refused commit changes nothing, the ledger included");
    PendingCommit late = (PendingCommit) executor.run(b.program(), b.data(), b.meter(), payer(),
        o -> { });
    clock.advance(Duration.ofHours(2));
    assertEquals(Reason.EXPIRED, assertThrows(ProgramStoppedException.class, late::confirm).reason());
    assertEquals(before, store.dump(), "an expired commit changes nothing, the ledger included");
  }

  // ---- bad input

  private record Case(String name, Hash capsule, Consumer<ExecFixture.Builder> bad, Reason reason,
      Failure failureOrNull, String fragment) {}

  @Test
  void everyKindOfBadInputHasItsOwnErrorAndChangesNothing() throws Exception {
    World w = new World();
    CapsuleFixture unknown = new CapsuleFixture("store-unknown");
    RecordWithBody unknownFirst = unknown.record(List.of(unknown.id()), "u", 1);
    RecordWithBody stray = w.f.record(w.merge.hash(), "stray-parent");
    RecordWithBody missingParent = w.f.record(stray.hash(), "missing-parent");
    List<byte[]> tooBig = List.of(new byte[(1 << 16) + 1]);
    List<byte[]> tooMany = new ArrayList<>();
    for (int i = 0; i < 1025; i++) {
      tooMany.add(new byte[] {(byte) i});
    }
    byte[] badMetadata = w.fresh.metadata.encoded();
    badMetadata[badMetadata.length - 3] ^= 1;
    byte[] trailing = AppendEncoding.encode(List.of(w.merge));
    trailing = Arrays.copyOf(trailing, trailing.length + 1);
    byte[] finalTrailing = trailing;
    Hash nowhere = Hash.copyOf(new byte[32]);
    List<Case> cases = List.of(
        new Case("garbage metadata", w.f.id(),
            b -> b.add(new Instruction.CreateCapsule(b.put(new byte[] {1, 2, 3}))),
            Reason.INVALID_INPUT, Failure.MALFORMED_ENCODING, "bad signed metadata"),
        new Case("metadata with a broken signature", w.f.id(),
            b -> b.add(new Instruction.CreateCapsule(b.put(badMetadata))),
            Reason.INVALID_INPUT, Failure.BAD_SIGNATURE, "bad signed metadata"),
        new Case("duplicate capsule", w.f.id(),
            b -> b.add(new Instruction.CreateCapsule(b.put(w.other.metadata.encoded()))),
            Reason.STORAGE, null, "already exists"),
        new Case("capsule created twice in one program", w.f.id(),
            b -> b.add(new Instruction.CreateCapsule(b.put(w.fresh.metadata.encoded()))),
            Reason.STORAGE, null, "already exists"),
        new Case("append to an unknown capsule", unknown.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, unknownFirst))),
            Reason.NOT_FOUND, null, "is not held"),
        new Case("heads of an unknown capsule", unknown.id(),
            b -> b.add(new Instruction.Heads()), Reason.NOT_FOUND, null, "is not held"),
        new Case("read from an unknown capsule", unknown.id(),
            b -> b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), 0, b.put(unknownFirst.hash()))),
            Reason.NOT_FOUND, null, "is not held"),
        new Case("bad record signature", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, CapsuleFixture.withBadSignature(w.merge)))),
            Reason.INVALID_INPUT, Failure.BAD_SIGNATURE, "does not verify"),
        new Case("unsigned record where every record is signed", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, CapsuleFixture.unsigned(w.merge)))),
            Reason.INVALID_INPUT, Failure.MISSING_SIGNATURE, "unsigned"),
        new Case("writer not allowed", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, w.f.recordByStranger(List.of(w.r1.hash()), "s")))),
            Reason.INVALID_INPUT, Failure.WRITER_NOT_ALLOWED, "may not append"),
        new Case("record of another capsule", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, w.other.record(w.o1.hash(), "elsewhere")))),
            Reason.INVALID_INPUT, Failure.WRONG_CAPSULE, "expected"),
        new Case("wrong height", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, CapsuleFixture.atHeight(w.left, 3)))),
            Reason.INVALID_INPUT, Failure.BAD_HEIGHT, "greatest parent height"),
        new Case("missing parent", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, missingParent))),
            Reason.INVALID_INPUT, Failure.BAD_PARENTS, "is unknown"),
        new Case("oversized sub-record", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, w.f.record(List.of(w.r1.hash()), tooBig)))),
            Reason.INVALID_INPUT, Failure.LIMIT_EXCEEDED, "record 0"),
        new Case("too many sub-records", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, w.f.record(List.of(w.r1.hash()), tooMany)))),
            Reason.INVALID_INPUT, Failure.LIMIT_EXCEEDED, "record 0"),
        new Case("one record twice in an append", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(append(b, w.next, w.next))),
            Reason.INVALID_INPUT, Failure.BAD_PARENTS, "repeats"),
        new Case("malformed append encoding", w.f.id(),
            b -> b.add(new Instruction.AppendRecord(b.put(finalTrailing))),
            Reason.INVALID_INPUT, Failure.MALFORMED_ENCODING, "after the last record"),
        new Case("unknown proof anchor", w.f.id(),
            b -> b.add(Instruction.Prove.record(b.put(nowhere), new RecordSelector.ByHeight(1))),
            Reason.NOT_FOUND, null, "no proof from"),
        new Case("anchor below its target", w.f.id(),
            b -> b.add(Instruction.Prove.record(b.put(w.r1.hash()), new RecordSelector.ByHash(b.put(w.merge.hash())))),
            Reason.NOT_FOUND, null, "no proof from"),
        new Case("sub-record index out of range", w.f.id(),
            b -> b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(b.put(w.r1.hash())), 3,
                b.put(w.merge.hash()))),
            Reason.NOT_FOUND, null, "has no sub-record 3"),
        new Case("proof of a sub-record out of range", w.f.id(),
            b -> b.add(new Instruction.Prove(b.put(w.merge.hash()), new RecordSelector.ByHash(b.put(w.r1.hash())), 7)),
            Reason.NOT_FOUND, null, "has no sub-record 7"),
        new Case("ambiguous height", w.f.id(),
            b -> b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(2), 0, b.put(w.merge.hash()))),
            Reason.AMBIGUOUS, null, "2 records at height 2"),
        new Case("unknown record hash", w.f.id(),
            b -> b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(b.put(nowhere)), 0,
                b.put(w.merge.hash()))),
            Reason.NOT_FOUND, null, "no record " + nowhere),
        new Case("a height with no record", w.f.id(),
            b -> b.add(Instruction.Prove.record(b.put(w.merge.hash()), new RecordSelector.ByHeight(9))),
            Reason.NOT_FOUND, null, "no record at height 9"),
        new Case("a record of another capsule by hash", w.f.id(),
            b -> b.add(Instruction.Prove.record(b.put(w.merge.hash()), new RecordSelector.ByHash(b.put(w.o1.hash())))),
            Reason.NOT_FOUND, null, "no record " + w.o1.hash()));
    Object before = store.dump();
    for (Case c : cases) {
      ExecFixture.Builder b = new ExecFixture.Builder(c.capsule());
      int index = 0;
      if (c.capsule().equals(w.f.id())) {
        // Something is staged before the bad instruction: a creation and an append.
        b.add(new Instruction.CreateCapsule(b.put(w.fresh.metadata.encoded())));
        b.add(new Instruction.AppendRecord(append(b, w.merge)));
        index = 2;
      }
      c.bad().accept(b);
      AtomicLong refunded = new AtomicLong();
      ProgramStoppedException e = fails(b, b.data(), b.meter(refunded));
      assertEquals(c.reason(), e.reason(), c.name() + ": " + e.getMessage());
      assertEquals(index, e.instructionIndex(), c.name());
      ExecutorContract.failedReceipt(e);
      assertTrue(e.getMessage().contains(c.fragment()), c.name() + ": " + e.getMessage());
      if (c.failureOrNull() != null) {
        VerificationException cause = assertInstanceOf(VerificationException.class, e.getCause(), c.name());
        assertEquals(c.failureOrNull(), cause.failure(), c.name() + ": " + cause.getMessage());
      }
      assertTrue(e.receiptOrNull().verify(ExecFixture.HOST.publicKey()).failed(), c.name());
      assertEquals(before, store.dump(), c.name() + " changed the store");
    }
  }

  // ---- concurrency

  @Test
  void readersDuringALongWriterSeeOneSnapshotAndFinishWithoutWaiting() throws Exception {
    World w = new World();
    List<Hash> headsBefore = committedHeads(w.f.id());
    CountDownLatch writerMidway = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ExecFixture.Builder wb = new ExecFixture.Builder(w.f.id());
    wb.add(new Instruction.AppendRecord(append(wb, w.merge)))
        .add(new Instruction.AppendRecord(append(wb, w.next)))
        .add(new Instruction.Heads());
    CompletableFuture<Outcome> writer = CompletableFuture.supplyAsync(() -> {
      try {
        return executor.run(wb.program(), wb.data(), wb.meter(), o -> {
          if (o.index() == 1) {
            writerMidway.countDown();
            awaitLatch(release);
          }
        });
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    assertTrue(writerMidway.await(30, TimeUnit.SECONDS));

    // Readers that read every height, prove against the committed head and ask for the heads twice.
    ExecFixture.Builder rb = new ExecFixture.Builder(w.f.id());
    DataRef anchor = rb.put(w.left.hash());
    rb.add(new Instruction.Heads())
        .add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), 2, anchor))
        .add(Instruction.Prove.record(anchor, new RecordSelector.ByHash(rb.put(w.r1.hash()))))
        .add(new Instruction.HasRecord(rb.put(w.merge.hash())))
        .add(new Instruction.Heads());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<List<InstructionOutput>>> readers = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        readers.add(pool.submit(() -> {
          List<InstructionOutput> seen = new ArrayList<>();
          assertInstanceOf(Outcome.Finished.class, executor.run(rb.program(), rb.data(), rb.meter(),
              seen::add));
          return seen;
        }));
      }
      for (Future<List<InstructionOutput>> reader : readers) {
        List<InstructionOutput> seen = reader.get(30, TimeUnit.SECONDS);
        List<Hash> first = hashes(((Output.Heads) seen.get(0).output()).heads());
        List<Hash> last = hashes(((Output.Heads) seen.get(4).output()).heads());
        assertEquals(headsBefore, first, "a reader sees the committed heads, not the writer's staged ones");
        assertEquals(first, last);
        assertEquals(new Output.Has(false, null), seen.get(3).output(), "the staged record is not committed");
      }
      assertFalse(writer.isDone(), "the readers finished while the writer was still running");
    } finally {
      pool.shutdownNow();
    }
    release.countDown();
    ((PendingCommit) writer.get(30, TimeUnit.SECONDS)).confirm();
    assertEquals(List.of(w.next.hash()), committedHeads(w.f.id()));
  }

  @Test
  void readersAcrossAStreamOfCommitsEachSeeOneSnapshot() throws Exception {
    CapsuleFixture f = new CapsuleFixture("store-stream");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    commit(f, r1);
    int commits = 30;
    List<RecordWithBody> chain = new ArrayList<>();
    Hash parent = r1.hash();
    for (int i = 0; i < commits; i++) {
      RecordWithBody r = f.record(parent, "c" + i);
      chain.add(r);
      parent = r.hash();
    }
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
      try {
        for (RecordWithBody r : chain) {
          ExecFixture.Builder b = new ExecFixture.Builder(f.id());
          b.add(new Instruction.AppendRecord(append(b, r)));
          ((PendingCommit) executor.run(b.program(), b.data(), b.meter(), o -> { })).confirm();
        }
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    ExecFixture.Builder rb = new ExecFixture.Builder(f.id());
    rb.add(new Instruction.Heads()).add(new Instruction.Heads()).add(new Instruction.Heads());
    int reads = 0;
    while (!writer.isDone() || reads < 5) {
      List<InstructionOutput> seen = new ArrayList<>();
      executor.run(rb.program(), rb.data(), rb.meter(), o -> {
        seen.add(o);
        Thread.yield();
      });
      List<Hash> first = hashes(((Output.Heads) seen.get(0).output()).heads());
      assertEquals(1, first.size());
      for (InstructionOutput o : seen) {
        assertEquals(first, hashes(((Output.Heads) o.output()).heads()), "one program, one snapshot");
      }
      reads++;
    }
    writer.get(30, TimeUnit.SECONDS);
    assertEquals(List.of(parent), committedHeads(f.id()));
  }

  @Test
  void concurrentWritersOnManyCapsulesAndOnOneLoseNoRecordAndBreakNoHeight() throws Exception {
    List<CapsuleFixture> capsules = List.of(new CapsuleFixture("store-w0"), new CapsuleFixture("store-w1"),
        new CapsuleFixture("store-w2"));
    Map<Hash, Set<Hash>> expected = new HashMap<>();
    for (CapsuleFixture c : capsules) {
      RecordWithBody first = c.record(List.of(c.id()), "first", 1);
      commit(c, first);
      expected.put(c.id(), java.util.Collections.synchronizedSet(new HashSet<>(List.of(first.hash()))));
    }
    int threadsPerCapsule = 3;
    int perThread = 6;
    ExecutorService pool = Executors.newFixedThreadPool(capsules.size() * threadsPerCapsule);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    AtomicInteger appended = new AtomicInteger();
    try {
      for (CapsuleFixture c : capsules) {
        for (int t = 0; t < threadsPerCapsule; t++) {
          long seed = t * 31L + c.id().hashCode();
          done.add(pool.submit(() -> {
            go.await();
            SplittableRandom random = new SplittableRandom(seed);
            for (int i = 0; i < perThread; i++) {
              // Build on what is committed now; another writer may commit first, which forks the capsule.
              List<Hash> heads = committedHeads(c.id());
              List<Hash> parents = random.nextBoolean() ? heads : List.of(heads.get(random.nextInt(heads.size())));
              RecordWithBody record = c.record(parents, "t" + seed + "-" + i, 1 + random.nextInt(3));
              ExecFixture.Builder b = new ExecFixture.Builder(c.id());
              b.add(new Instruction.AppendRecord(append(b, record))).add(new Instruction.Heads());
              ((PendingCommit) executor.run(b.program(), b.data(), b.meter(), o -> { })).confirm();
              expected.get(c.id()).add(record.hash());
              appended.incrementAndGet();
            }
            return null;
          }));
        }
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(capsules.size() * threadsPerCapsule * perThread, appended.get());
    for (CapsuleFixture c : capsules) {
      assertConsistent(storage, c.id(), expected.get(c.id()));
    }
  }

  /**
   * Checks a capsule as committed: the records reachable from its heads are exactly {@code expected},
   * every height is one more than its greatest parent's, the height index lists exactly the records, and
   * the heads are exactly the records no other record names as a parent.
   */
  public static void assertConsistent(CapsuleStorage storage, Hash capsuleId, Set<Hash> expected) throws Exception {
    try (Snapshot snapshot = storage.openSnapshot(capsuleId)) {
      Map<Hash, RecordHeader> found = new HashMap<>();
      List<Hash> todo = new ArrayList<>(snapshot.heads());
      Set<Hash> parents = new HashSet<>();
      while (!todo.isEmpty()) {
        Hash hash = todo.remove(todo.size() - 1);
        if (found.containsKey(hash)) {
          continue;
        }
        RecordHeader header = snapshot.headerOrNull(hash);
        assertNotNull(header, "record " + hash + " is held");
        found.put(hash, header);
        long greatest = 0;
        for (Hash parent : header.parents()) {
          if (!parent.equals(capsuleId)) {
            RecordHeader p = snapshot.headerOrNull(parent);
            assertNotNull(p, "parent " + parent + " of " + hash + " is held");
            greatest = Math.max(greatest, p.height());
            parents.add(parent);
            todo.add(parent);
          }
        }
        assertEquals(greatest + 1, header.height(), "height of " + hash);
        assertEquals(header.subRecordCount(), snapshot.subRecordsOrNull(hash).size());
      }
      assertEquals(expected, found.keySet(), "no record lost, none invented");
      Set<Hash> heads = new HashSet<>(found.keySet());
      heads.removeAll(parents);
      assertEquals(heads, new HashSet<>(snapshot.heads()), "heads are the records without children");
      long max = found.values().stream().mapToLong(RecordHeader::height).max().orElse(0);
      int indexed = 0;
      for (long h = 1; h <= max + 1; h++) {
        for (Hash hash : snapshot.recordsAtHeight(h)) {
          assertEquals(h, found.get(hash).height(), "height index of " + hash);
          indexed++;
        }
      }
      assertEquals(found.size(), indexed, "the height index lists every record once");
    }
  }

  // ---- the charge committed with the writes

  @Test
  void aConfirmedProgramSettlesItsCostInTheSameCommitAndNeverThroughTheRefunder() throws Exception {
    World w = new World();
    long balance = store.ledger().balance(PAYER).units();
    AtomicLong refunded = new AtomicLong();
    ExecFixture.Builder b = new ExecFixture.Builder(w.f.id());
    validPrefix(w).forEach(p -> p.accept(b));
    Reservation payer = payer();
    PendingCommit pending = (PendingCommit) executor.run(b.program(), b.data(), b.meter(refunded), payer, o -> { });
    assertEquals(balance, store.ledger().balance(PAYER).units(), "nothing is taken before the commit");
    assertTrue(payer.isHeld());
    Receipt receipt = pending.confirm().verify(ExecFixture.HOST.publicKey());
    assertFalse(receipt.failed());
    assertTrue(receipt.cost().storage().units() > 0);
    assertEquals(balance - receipt.finalCost().units(), store.ledger().balance(PAYER).units());
    assertEquals(List.of(new Settlement(PAYER, payer.nonce(), payer.expiry(), ExecFixture.PROGRAM_ID,
        receipt.finalCost())), store.ledger().settlements(PAYER), "the settlement names the program and its cost");
    assertEquals(ExecFixture.PROGRAM_ID, store.ledger().lastProgram(PAYER));
    assertTrue(payer.isCommitted());
    assertEquals(Amount.ZERO, holds.held(), "the hold is given back once the charge is written");
    assertEquals(0, refunded.get(), "the meter's refunder is not called");
    assertEquals(List.of(w.next.hash()), committedHeads(w.f.id()));
    assertEquals(receipt, pending.confirm().verify(ExecFixture.HOST.publicKey()), "confirming again settles nothing");
    assertEquals(balance - receipt.finalCost().units(), store.ledger().balance(PAYER).units());
  }

  @Test
  void aCommitStorageRefusesSettlesNothingAndTheFailedProgramSettlesOnce() throws Exception {
    CapsuleFixture f = new CapsuleFixture("store-twice");
    ExecFixture.Builder b = new ExecFixture.Builder(null);
    b.add(new Instruction.CreateCapsule(b.put(f.metadata.encoded())));
    Ledger ledger = store.ledger();
    ledger.deposit(PAYER, Amount.ofCap(10_000));
    long start = ledger.balance(PAYER).units();
    AtomicLong viaRefunder = new AtomicLong();
    long budget = ExecFixture.BUDGET;
    Reservation firstPayer = payer();
    Reservation secondPayer = payer();
    Meter first = b.meter(budget, new AtomicLong());
    // The second program's refunder settles the same reservation, as a host wires it.
    Meter second = b.meter(budget, (amount, programId) -> {
      viaRefunder.addAndGet(amount.units());
      holds.refunderFor(secondPayer).refund(amount, programId);
    });
    PendingCommit one = (PendingCommit) executor.run(b.program(), b.data(), first, firstPayer, o -> { });
    PendingCommit two = (PendingCommit) executor.run(b.program(), b.data(), second, secondPayer, o -> { });
    Receipt ok = one.confirm().verify(ExecFixture.HOST.publicKey());
    long afterFirst = ledger.balance(PAYER).units();
    assertEquals(start - ok.finalCost().units(), afterFirst);
    ProgramStoppedException e = assertThrows(ProgramStoppedException.class, two::confirm);
    assertEquals(Reason.STORAGE, e.reason());
    Receipt failed = e.receiptOrNull().verify(ExecFixture.HOST.publicKey());
    assertTrue(failed.failed());
    assertEquals(Amount.ZERO, failed.cost().storage(), "the storage part is not charged");
    assertEquals(failed.refund().units(), viaRefunder.get(), "settled once, through the refunder");
    assertEquals(afterFirst - failed.finalCost().units(), ledger.balance(PAYER).units());
    assertTrue(failed.finalCost().units() < ok.finalCost().units());
    assertTrue(secondPayer.isCommitted());
    assertEquals(2, ledger.settlements(PAYER).size());
    assertEquals(Amount.ZERO, holds.held());
  }

  @Test
  void aBatchSettlementIsAppliedWithItsWritesOrNotAtAll() throws Exception {
    World w = new World();
    long balance = store.ledger().balance(PAYER).units();
    RecordWithBody stray = w.f.record(w.merge.hash(), "stray");
    RecordWithBody orphan = w.f.record(stray.hash(), "orphan");
    java.time.Instant expiry = ExecFixture.START.plusSeconds(3600);
    Object before = store.dump();
    try (Batch batch = storage.newBatch()) {
      batch.putRecord(w.merge);
      batch.settle(new Settlement(PAYER, 900, expiry, ExecFixture.PROGRAM_ID, Amount.of(500)));
      batch.putRecord(orphan);
      StorageException e = assertThrows(StorageException.class, batch::commit);
      assertEquals(StorageException.Reason.MISSING_PARENT, e.reason());
    }
    assertEquals(before, store.dump(), "neither the record nor the settlement was applied");
    try (Batch batch = storage.newBatch()) {
      batch.putRecord(w.merge);
      batch.settle(new Settlement(PAYER, 900, expiry, ExecFixture.PROGRAM_ID, Amount.of(500)));
      batch.settle(new Settlement(PAYER, 901, expiry, ExecFixture.PROGRAM_ID, Amount.of(25)));
      batch.commit();
    }
    assertEquals(balance - 525, store.ledger().balance(PAYER).units());
    assertEquals(List.of(w.merge.hash()), committedHeads(w.f.id()));
    Object settled = store.dump();
    for (Settlement refused : List.of(
        new Settlement(PAYER, 900, expiry, ExecFixture.PROGRAM_ID, Amount.of(1)),
        new Settlement(PAYER, 902, expiry, ExecFixture.PROGRAM_ID, Amount.of(balance)))) {
      try (Batch batch = storage.newBatch()) {
        batch.putRecord(w.next);
        batch.settle(refused);
        StorageException e = assertThrows(StorageException.class, batch::commit);
        assertEquals(StorageException.Reason.SETTLEMENT_REFUSED, e.reason(), refused.toString());
      }
      assertEquals(settled, store.dump(), "a replayed or unpayable settlement applies nothing");
    }
  }

  private static List<Hash> hashes(List<dev.capsulevm.proofs.capsule.Record> records) {
    List<Hash> out = new ArrayList<>();
    records.forEach(r -> out.add(r.header().hash()));
    return out;
  }

  private static void awaitLatch(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("latch timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
