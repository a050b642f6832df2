package dev.capsulevm.host.store;

import dev.capsulevm.vm.storage.StagedWrite;
import dev.capsulevm.vm.storage.StorageException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit: the batches of many threads committed in one write transaction, so that one synced
 * commit (the disk's flush, milliseconds) serves every program ending at that moment instead of one each.
 * Each caller of {@link #commit} waits until the transaction holding its batch has committed, or its
 * batch was refused; nothing of a refused batch is applied, and a batch refused never costs the others of
 * its group theirs.
 *
 * <p>Leader and followers, no thread of its own: a caller queues its batch and takes the leader's lock;
 * whoever holds it takes every batch queued (at most {@link #MAX_GROUP}) and commits them, while the
 * callers arriving meanwhile queue behind the lock and are committed by the next leader, together. A
 * caller whose batch a leader committed finds it done when it gets the lock. Alone, a batch is applied
 * straight in the transaction; in a group each batch is applied in a transaction nested in it, which is
 * closed without committing when the batch is refused (LMDB keeps the parent usable), so one batch's
 * refusal or full map discards its writes only.
 */
final class GroupCommits {
  private static final Logger log = LoggerFactory.getLogger(GroupCommits.class);
  /** The most batches one transaction commits; the rest wait for the next. */
  static final int MAX_GROUP = 256;

  /** Applies one batch's writes inside a transaction; returns what to do once that transaction committed. */
  @FunctionalInterface
  interface Applier {
    Runnable apply(Txn<ByteBuffer> txn, List<StagedWrite> writes) throws StorageException;
  }

  /**
   * Writes that open every transaction, before its batches: the ledger's journaled settlements
   * ({@link SettlementJournal}), so they reach LMDB in the order they were written, before any later batch.
   */
  interface Prelude {
    /** Whether there is anything to write; when not, {@link #apply} is not called. */
    boolean hasWork();

    /** Writes inside {@code txn}; returns what to do once the transaction committed. */
    Runnable apply(Txn<ByteBuffer> txn) throws StorageException;
  }

  /** A batch waiting for its commit. Its fields change only under the leader's lock. */
  private static final class Waiting {
    final List<StagedWrite> writes;
    boolean done;
    boolean mapFull;
    @Nullable Exception failure;
    @Nullable Runnable afterCommit;

    Waiting(List<StagedWrite> writes) {
      this.writes = writes;
    }

    void reset() {
      mapFull = false;
      failure = null;
      afterCommit = null;
    }
  }

  private final LmdbEnvironment environment;
  private final Applier applier;
  private final Prelude prelude;
  private final ReentrantLock leader = new ReentrantLock();
  private final ConcurrentLinkedQueue<Waiting> queue = new ConcurrentLinkedQueue<>();
  private final AtomicLong transactions = new AtomicLong();
  private final AtomicLong batches = new AtomicLong();

  GroupCommits(LmdbEnvironment environment, Applier applier, Prelude prelude) {
    this.environment = environment;
    this.applier = applier;
    this.prelude = prelude;
  }

  /**
   * Commits {@code writes} atomically, with whatever other batches are waiting; returns once that
   * transaction committed (durable as the environment's durability says).
   *
   * @throws StorageException when the batch was refused; nothing of it was applied
   */
  void commit(List<StagedWrite> writes) throws StorageException {
    Waiting mine = new Waiting(writes);
    queue.add(mine);
    leader.lock();
    try {
      while (!mine.done) {
        List<Waiting> group = new ArrayList<>();
        for (Waiting next = queue.poll(); next != null; next = group.size() < MAX_GROUP ? queue.poll() : null) {
          group.add(next);
        }
        run(group);
      }
    } finally {
      leader.unlock();
    }
    Exception failure = mine.failure;
    if (failure instanceof StorageException refused) {
      throw refused;
    }
    if (failure instanceof RuntimeException broken) {
      throw broken;
    }
  }

  /** How many batches wait for a leader now (tests wait for a group to form). */
  int waiting() {
    return queue.size();
  }

  /** Write transactions committed so far, and the batches they held: what grouping saves, for tests and metrics. */
  long[] counts() {
    return new long[] {transactions.get(), batches.get()};
  }

  /** Commits {@code group}; a batch that alone filled the map is tried once more after the map grew. */
  private void run(List<Waiting> group) {
    try {
      List<Waiting> full = commitTogether(group);
      if (!full.isEmpty() && environment.grow()) {
        commitTogether(full);
      }
    } finally {
      for (Waiting waiting : group) {
        waiting.done = true;
      }
    }
  }

  /** One write transaction for {@code group}; returns the batches refused for a full map. */
  private List<Waiting> commitTogether(List<Waiting> group) {
    List<Runnable> afterPrelude = new ArrayList<>(1);
    try {
      environment.write(txn -> {
        afterPrelude.clear();
        for (Waiting waiting : group) {
          waiting.reset(); // the work runs again when the map grew
        }
        if (prelude.hasWork()) {
          // Nested, so that a prelude that cannot be written (a full map) costs the batches nothing: it
          // stays to be written by the next transaction.
          try (Txn<ByteBuffer> nested = environment.child(txn)) {
            Runnable after = prelude.apply(nested);
            nested.commit();
            afterPrelude.add(after);
          } catch (StorageException | RuntimeException e) {
            log.warn("the journaled settlements wait for the next commit: {}", e.toString());
          }
        }
        if (group.size() == 1) {
          Waiting only = group.get(0);
          only.afterCommit = applier.apply(txn, only.writes);
          return Boolean.TRUE;
        }
        for (Waiting waiting : group) {
          try (Txn<ByteBuffer> nested = environment.child(txn)) {
            waiting.afterCommit = applier.apply(nested, waiting.writes);
            nested.commit();
          } catch (Env.MapFullException e) {
            waiting.failure = e;
            waiting.mapFull = true;
            waiting.afterCommit = null;
          } catch (StorageException | RuntimeException e) {
            waiting.failure = e;
            waiting.afterCommit = null;
          }
        }
        return Boolean.TRUE;
      });
    } catch (StorageException | RuntimeException e) {
      // Nothing of the transaction was committed: every batch of it fails with why.
      for (Waiting waiting : group) {
        waiting.failure = e;
        waiting.afterCommit = null;
      }
      return List.of();
    }
    transactions.incrementAndGet();
    afterPrelude.forEach(Runnable::run);
    List<Waiting> full = new ArrayList<>();
    for (Waiting waiting : group) {
      Runnable after = waiting.afterCommit;
      if (after != null) {
        batches.incrementAndGet();
        try {
          after.run();
        } catch (RuntimeException e) {
          // What runs after a commit only tells others (caches, retention); the batch is committed whatever
          // they do, so their failure is logged and is not the batch's.
          log.warn("after a commit: {}", e.toString(), e);
        }
      } else if (waiting.mapFull) {
        full.add(waiting);
      }
    }
    return full;
  }
}
