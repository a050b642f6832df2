package dev.capsulevm.host.server;

import dev.capsulevm.pricing.Cashier;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.vm.exec.Executor;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** What the services share: one per {@link HostServer}. */
final class HostContext implements Admission.Slots {
  final HostConfig config;
  final SigningKey hostKey;
  final PriceTables tables;
  final Ledger ledger;
  final Executor executor;
  final ExecutorService programPool;
  final ScheduledExecutorService scheduler;
  final Metrics metrics;
  final Admission admission;
  final Set<ExecuteCall> calls = ConcurrentHashMap.newKeySet();
  final AtomicInteger running = new AtomicInteger();
  final AtomicLong programsRun = new AtomicLong();
  final long startedNanos = System.nanoTime();
  volatile boolean closing;

  HostContext(HostConfig config, SigningKey hostKey, PriceTables tables, Ledger ledger, Cashier cashier,
      Executor executor, ExecutorService programPool, ScheduledExecutorService scheduler, RateLimiter rate,
      Metrics metrics) {
    this.config = config;
    this.hostKey = hostKey;
    this.tables = tables;
    this.ledger = ledger;
    this.executor = executor;
    this.programPool = programPool;
    this.scheduler = scheduler;
    this.metrics = metrics;
    this.admission = new Admission(tables, cashier, ledger, rate, config, this, () -> closing);
  }

  /** Admits one more program if fewer than {@code limit} are admitted. */
  @Override
  public boolean admit(int limit) {
    while (true) {
      int now = running.get();
      if (now >= limit) {
        return false;
      }
      if (running.compareAndSet(now, now + 1)) {
        metrics.running.inc();
        return true;
      }
    }
  }

  @Override
  public void release() {
    running.decrementAndGet();
    metrics.running.dec();
  }
}
