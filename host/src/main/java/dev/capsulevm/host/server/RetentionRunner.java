package dev.capsulevm.host.server;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.vm.retention.Retention;
import dev.capsulevm.vm.storage.StorageException;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@link Retention} after commits, on one thread of its own: a commit that stores records of a
 * capsule (a program's or a sync session's) queues one run for that capsule, {@link #DELAY} later, unless
 * one is queued already; a run that stops at its bounds queues the next at once. So the work per run stays
 * bounded, a writer never waits for retention, and a capsule appended to thousands of times a second gets
 * one run per delay instead of one per commit (each opens a snapshot and works out the capsule's policy).
 * A run that fails is logged and retried on the capsule's next commit.
 */
final class RetentionRunner implements AutoCloseable {
  /** How long after a commit its capsule's run starts: the commits in between share it. */
  static final Duration DELAY = Duration.ofMillis(100);

  private static final Logger log = LoggerFactory.getLogger(RetentionRunner.class);

  private final Retention retention;
  private final ScheduledExecutorService thread;
  private final Set<Hash> queued = ConcurrentHashMap.newKeySet();

  RetentionRunner(Retention retention) {
    this.retention = Objects.requireNonNull(retention, "retention");
    this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "capsulevm-retention");
      t.setDaemon(true);
      return t;
    });
  }

  Retention retention() {
    return retention;
  }

  /** The store committed records of {@code capsuleId}, the lowest at {@code lowestHeight}. */
  void recordsCommitted(Hash capsuleId, long lowestHeight) {
    retention.recordsArrived(capsuleId, lowestHeight);
    queue(capsuleId, DELAY);
  }

  private void queue(Hash capsuleId, Duration delay) {
    if (!queued.add(capsuleId)) {
      return;
    }
    try {
      // runOnce catches and logs what a run throws, so its future has nothing to report.
      ScheduledFuture<?> unused = thread.schedule(() -> runOnce(capsuleId), delay.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      queued.remove(capsuleId); // closing
    }
  }

  private void runOnce(Hash capsuleId) {
    queued.remove(capsuleId); // a commit from here on queues another run
    try {
      Retention.Run run = retention.run(capsuleId);
      if (run.dropped() > 0) {
        log.info("retention dropped the payloads of {} records of capsule {}, credited {} units", run.dropped(),
            capsuleId, run.credited().units());
      }
      if (run.more()) {
        queue(capsuleId, Duration.ZERO);
      }
    } catch (StorageException | RuntimeException e) {
      log.warn("retention of capsule {} failed: {}", capsuleId, e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    thread.shutdownNow();
    try {
      thread.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
