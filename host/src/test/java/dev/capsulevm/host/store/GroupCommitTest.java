package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.testing.Await;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.StagedWrite;
import dev.capsulevm.vm.storage.StorageException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Group commit ({@link GroupCommits}): batches that wait while another commits are committed together,
 * in one write transaction, and a batch refused inside a group discards its own writes only. The group is
 * formed by holding the first commit's leader inside its after-commit step (the records listener) until
 * the others are seen waiting: no timing.
 */
class GroupCommitTest {
  private static final PublicKey PAYER = ExecFixture.key(0x35).publicKey();
  private static final Instant EXPIRY = Instant.now().plusSeconds(3600).truncatedTo(ChronoUnit.SECONDS);

  @TempDir Path dir;

  @Test
  void batchesWaitingTogetherShareOneTransactionAndARefusedOneCostsTheOthersNothing() throws Exception {
    CapsuleFixture a = new CapsuleFixture("group-a");
    CapsuleFixture b = new CapsuleFixture("group-b");
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("group"), 16L << 20, 16)) {
      LmdbLedger ledger = storage.ledger(Clock.systemUTC(), Amount.MAX);
      ledger.deposit(PAYER, Amount.of(1000));
      try (Batch batch = storage.newBatch()) {
        batch.createCapsule(a.metadata);
        batch.createCapsule(b.metadata);
        batch.commit();
      }
      RecordWithBody a1 = a.record(List.of(a.id()), "a1", 1);
      RecordWithBody b1 = b.record(List.of(b.id()), "b1", 2);
      RecordWithBody orphan = b.record(b1.hash(), "orphan");
      RecordWithBody lost = b.record(orphan.hash(), "lost");
      CountDownLatch inListener = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      AtomicBoolean holdOnce = new AtomicBoolean(true);
      storage.onRecordsCommitted((capsule, height) -> {
        if (capsule.equals(a.id()) && holdOnce.getAndSet(false)) {
          inListener.countDown();
          await(release);
        }
      });
      CompletableFuture<Void> first = CompletableFuture.runAsync(() -> commit(storage, List.of(
          new StagedWrite.PutRecord(a1, null))));
      assertTrue(inListener.await(Await.DEADLINE.toSeconds(), TimeUnit.SECONDS), "the first commit is held");
      long[] before = storage.commitCounts();
      Settlement paid = new Settlement(PAYER, 7, EXPIRY, ExecFixture.PROGRAM_ID, Amount.of(40));
      CompletableFuture<Void> record = CompletableFuture.runAsync(() -> commit(storage, List.of(
          new StagedWrite.PutRecord(b1, null))));
      CompletableFuture<Void> refused = CompletableFuture.runAsync(() -> commit(storage, List.of(
          new StagedWrite.Settle(new Settlement(PAYER, 8, EXPIRY, ExecFixture.PROGRAM_ID, Amount.of(5))),
          new StagedWrite.PutRecord(lost, null))));
      CompletableFuture<Void> settle = CompletableFuture.runAsync(() -> commit(storage, List.of(
          new StagedWrite.Settle(paid))));
      Await.until("three batches wait behind the first", () -> storage.waitingCommits() == 3);
      release.countDown();
      first.get();
      record.get();
      settle.get();
      ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, refused::get);
      Throwable cause = e.getCause() instanceof java.util.concurrent.CompletionException c ? c.getCause() : e.getCause();
      StorageException why = org.junit.jupiter.api.Assertions.assertInstanceOf(StorageException.class, cause);
      assertEquals(StorageException.Reason.MISSING_PARENT, why.reason());
      long[] after = storage.commitCounts();
      assertArrayEquals(new long[] {1, 2}, new long[] {after[0] - before[0], after[1] - before[1]},
          "one transaction for the waiting batches, the two that passed");
      assertNotNull(storage.recordByHashOrNull(b1.hash()), "the group's record is stored");
      assertNull(storage.recordByHashOrNull(lost.hash()), "the refused batch's record is not");
      assertEquals(List.of(paid), ledger.settlements(PAYER), "nor its settlement; the other's is");
      assertEquals(Amount.of(960), ledger.balance(PAYER));
      assertEquals(List.of(b1.hash()), storage.heads(b.id()));
    }
  }

  private static void commit(LmdbCapsuleStorage storage, List<StagedWrite> writes) {
    try (Batch batch = storage.newBatch()) {
      for (StagedWrite write : writes) {
        if (write instanceof StagedWrite.PutRecord put) {
          batch.putRecord(put.record());
        } else if (write instanceof StagedWrite.Settle settle) {
          batch.settle(settle.settlement());
        }
      }
      batch.commit();
    } catch (StorageException e) {
      throw new java.util.concurrent.CompletionException(e);
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(Await.DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
        throw new AssertionError("not released");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
