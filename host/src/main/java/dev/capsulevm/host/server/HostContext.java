package dev.capsulevm.host.server;

import dev.capsulevm.host.store.LmdbLedger;
import dev.capsulevm.pricing.Cashier;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.vm.exec.Executor;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import dev.capsulevm.proofs.crypto.PublicKey;
import org.slf4j.LoggerFactory;
import java.util.concurrent.atomic.AtomicLong;

/** What the services share: one per {@link HostServer}. */
final class HostContext {
  final HostConfig config;
  final SigningKey hostKey;
  final PriceTables tables;
  final Ledger ledger;
  /** The budgets of programs in flight, held in front of the ledger. */
  final Reservations reservations;
  final Executor executor;
  final ExecutorService programPool;
  final ScheduledExecutorService scheduler;
  final Metrics metrics;
  final Admission admission;
  /** The payment sessions open, whose tickets pay for programs. */
  final Sessions sessions;
  final Set<ExecuteCall> calls = ConcurrentHashMap.newKeySet();
  /** The program streams open, which the host's close tells to close once their programs have ended. */
  final Set<ProgramStream> streams = ConcurrentHashMap.newKeySet();
  final ProgramSlots slots;
  final AtomicLong programsRun = new AtomicLong();
  final long startedNanos = System.nanoTime();
  volatile boolean closing;
  /** Refusals, timeouts and wrong admin tokens, at most one line per reason per 10 s. */
  final LogLimiter events = new LogLimiter(LoggerFactory.getLogger("dev.capsulevm.host.events"),
      LogLimiter.INTERVAL, System::nanoTime);

  HostContext(HostConfig config, SigningKey hostKey, PriceTables tables, Cashier cashier, Executor executor, ExecutorService programPool, ScheduledExecutorService scheduler, RateLimiter rate,
      Metrics metrics) {
    this.config = config;
    this.hostKey = hostKey;
    this.tables = tables;
    this.reservations = cashier.reservations();
    this.ledger = reservations.ledger();
    this.executor = executor;
    this.programPool = programPool;
    this.scheduler = scheduler;
    this.metrics = metrics;
    this.slots = new ProgramSlots(config.reservedShare(), metrics.running::set);
    metrics.uncommittedBudget(() -> reservations.held().units());
    if (ledger instanceof LmdbLedger journaled) {
      metrics.unsyncedCharges(() -> journaled.unsyncedCharges().units());
    }
    this.sessions = new Sessions(config.sessions(), config.clock(), hostKey, tables, reservations, () -> closing);
    metrics.sessions(sessions::open, sessions::opened, sessions::programsPaid);
    this.admission = new Admission(tables, cashier, rate, config, slots, sessions, () -> closing);
  }

  /** Gives back the slot of an admitted program of {@code account} when its call ends. */
  void release(PublicKey account) {
    slots.release(account);
  }
}
