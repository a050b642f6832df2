package dev.capsulevm.vm.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.ProgramData;
import dev.capsulevm.vm.exec.ProgramStoppedException.Reason;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Idle per-capsule write permits are dropped, and dropping them never lets two writers in at once. */
class WritePermitTest {
  private final InMemoryCapsuleStorage storage = new InMemoryCapsuleStorage();
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  private final Executor executor = new Executor(storage, new SettableClock(ExecFixture.START), Duration.ofHours(1),
      Duration.ofSeconds(10), ExecFixture.ENVELOPE, ExecFixture.HOST, scheduler);

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  /** Stores {@code f}'s capsule with a first record, which it returns. */
  private RecordWithBody storedWithFirstRecord(CapsuleFixture f) throws Exception {
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 1);
    try (Batch batch = storage.newBatch()) {
      batch.createCapsule(f.metadata);
      batch.putRecord(r1);
      batch.commit();
    }
    return r1;
  }

  private static ExecFixture.Builder on(CapsuleFixture f) {
    ExecFixture.Builder b = new ExecFixture.Builder(f.id());
    return b;
  }

  @Test
  void permitsOfFinishedProgramsAreDroppedWhateverTheOutcome() throws Exception {
    List<CapsuleFixture> capsules = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      CapsuleFixture f = new CapsuleFixture("permit-" + i);
      RecordWithBody r1 = storedWithFirstRecord(f);
      capsules.add(f);
      RecordWithBody r2 = f.record(r1.hash(), "two");
      ExecFixture.Builder b = on(f);
      b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(r2)))));
      PendingCommit pending = (PendingCommit) executor.run(b.program(), b.data(), b.meter(), o -> { });
      assertEquals(1, executor.writePermitEntries(), "held while the commit is pending");
      if (i % 2 == 0) {
        pending.confirm();
      } else {
        pending.refuse();
      }
      assertEquals(0, executor.writePermitEntries(), "dropped once confirmed or refused");
      ExecFixture.Builder bad = on(f);
      bad.add(new Instruction.AppendRecord(bad.put(new byte[] {0, 0, 0, 0})));
      assertEquals(Reason.INVALID_INPUT, assertThrows(ProgramStoppedException.class,
          () -> executor.run(bad.program(), bad.data(), bad.meter(), o -> { })).reason());
      assertEquals(0, executor.writePermitEntries(), "dropped after a failure");
    }
  }

  @Test
  void aWriterWaitingForItsAppendsDataDoesNotHoldTheCapsule() throws Exception {
    CapsuleFixture f = new CapsuleFixture("permit-upload");
    RecordWithBody r1 = storedWithFirstRecord(f);
    ExecFixture.Builder slow = on(f);
    slow.add(new Instruction.AppendRecord(slow.put(AppendEncoding.encode(List.of(f.record(r1.hash(), "slow"))))));
    ProgramData uploading = new ProgramData(slow.size(), slow.size()); // declared, nothing arrived yet
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Thread[] worker = new Thread[1];
      CountDownLatch started = new CountDownLatch(1);
      Future<Outcome> slowRun = pool.submit(() -> {
        worker[0] = Thread.currentThread();
        started.countDown();
        return executor.run(slow.program(), uploading, slow.meter(), o -> { });
      });
      started.await();
      while (worker[0].getState() != Thread.State.TIMED_WAITING) { // waiting for its data
        Thread.onSpinWait();
      }

      // another writer of the capsule runs and commits meanwhile, without waiting for the upload
      ExecFixture.Builder quick = on(f);
      RecordWithBody r2 = f.record(r1.hash(), "quick");
      quick.add(new Instruction.AppendRecord(quick.put(AppendEncoding.encode(List.of(r2)))));
      ((PendingCommit) executor.run(quick.program(), quick.data(), quick.meter(), o -> { })).confirm();
      assertFalse(slowRun.isDone());

      uploading.append(slow.bytes());
      ((PendingCommit) slowRun.get(60, TimeUnit.SECONDS)).confirm();
      try (Snapshot s = storage.openSnapshot(f.id())) {
        assertEquals(2, s.heads().size(), "both appends followed the first record");
      }
      assertEquals(0, executor.writePermitEntries());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void manyWritersOnOneCapsuleNeverOverlapWhilePermitsComeAndGo() throws Exception {
    CapsuleFixture f = new CapsuleFixture("permit-race");
    storedWithFirstRecord(f);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    AtomicInteger committed = new AtomicInteger();
    int threads = 6;
    int perThread = 25;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    try {
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          go.await();
          for (int i = 0; i < perThread; i++) {
            List<dev.capsulevm.proofs.Hash> headsNow;
            try (Snapshot s = storage.openSnapshot(f.id())) {
              headsNow = s.heads();
            }
            RecordWithBody r = f.record(headsNow, "t" + thread + "-" + i, 1);
            ExecFixture.Builder b = on(f);
            b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(r)))));
            PendingCommit pending = (PendingCommit) executor.run(b.program(), b.data(), b.meter(), o -> {
              most.accumulateAndGet(inside.incrementAndGet(), Math::max);
              Thread.yield();
            });
            Thread.yield();
            inside.decrementAndGet();
            pending.confirm();
            committed.incrementAndGet();
          }
          return null;
        }));
      }
      go.countDown();
      for (Future<?> d : done) {
        d.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(1, most.get(), "one writer at a time on the capsule");
    assertEquals(threads * perThread, committed.get());
    assertEquals(0, executor.writePermitEntries());
    try (Snapshot s = storage.openSnapshot(f.id())) {
      assertTrue(s.heads().size() >= 1);
    }
  }
}
