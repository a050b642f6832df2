package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Many programs paid from one account at once: no overdraft, no lost unit, no program settled twice. */
class ConcurrentLedgerTest {
  @Test
  void balancesAndSpendingAreConserved() throws Exception {
    PriceTable table = Fixtures.exampleTable();
    Hash tableId = table.id();
    PublicKey host = Fixtures.HOST.publicKey();
    PublicKey account = Fixtures.RENTER.publicKey();
    SettableClock clock = new SettableClock(Fixtures.VALID_FROM.plusSeconds(1));
    InMemoryLedger ledger = new InMemoryLedger(clock, table.limits().maxBalance());
    Reservations holds = new Reservations(ledger, clock, Duration.ofHours(1), Amount.MAX);
    Cashier cashier = new Cashier(holds, host, clock);
    long initial = 3_000_000;
    ledger.deposit(account, Amount.of(initial));
    ProgramShape program = Fixtures.exampleProgram();

    int threads = 8;
    int perThread = 60;
    // Sign up front: signing is not what is under test and would dominate the run time.
    List<List<SignedWithdrawal>> orders = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      List<SignedWithdrawal> mine = new ArrayList<>();
      for (int i = 0; i < perThread; i++) {
        long nonce = (long) t * perThread + i;
        mine.add(new Withdrawal(account, Amount.of(70_000), nonce, clock.instant().plusSeconds(600), tableId, host)
            .sign(Fixtures.RENTER));
      }
      orders.add(mine);
    }
    AtomicLong spent = new AtomicLong();
    AtomicLong refused = new AtomicLong();
    AtomicLong paid = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      List<SignedWithdrawal> mine = orders.get(t);
      long seed = t;
      done.add(pool.submit(() -> {
        go.await();
        SplittableRandom random = new SplittableRandom(seed);
        for (SignedWithdrawal w : mine) {
          Reservation held;
          try {
            held = cashier.accept(w, tableId);
          } catch (PricingException e) {
            assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE, e.reason());
            refused.incrementAndGet();
            continue;
          }
          paid.incrementAndGet();
          // Also replay someone's order now and then: it must never pay twice.
          try {
            cashier.accept(w, tableId);
            throw new AssertionError("replay accepted");
          } catch (PricingException e) {
            assertEquals(PricingException.Reason.REPLAYED_NONCE, e.reason());
          }
          Meter meter = Meter.open(table, Fixtures.programId("p" + w.withdrawal().nonce()), null, held.amount(), 200,
              10, cashier.refunderFor(held), Fixtures.CLOCK);
          int stopAfter = random.nextInt(4);
          try {
            meter.chargeUpload(1300);
            for (int i = 0; i < stopAfter; i++) {
              meter.chargeInstruction(program.instructions().get(i));
              meter.chargeOutput(random.nextInt(65), Fixtures.leaf(i));
            }
          } catch (BudgetExceededException e) {
            throw new AssertionError(e);
          }
          if (stopAfter < 3) {
            meter.fail(stopAfter, 4, "stopped");
          }
          Receipt r = meter.close();
          meter.close(); // a second close must not settle again
          if (!held.isCommitted()) {
            throw new AssertionError("not settled", held.failureOrNull());
          }
          spent.addAndGet(r.finalCost().units());
        }
        return null;
      }));
    }
    go.countDown();
    for (Future<?> f : done) {
      f.get();
    }
    pool.shutdown();
    long balance = ledger.balance(account).units();
    assertTrue(balance >= 0);
    assertEquals(initial, balance + spent.get(), "every unit is either still in the account or was spent");
    assertEquals(Amount.ZERO, holds.held(), "every hold was given back");
    assertEquals(paid.get(), ledger.settlements(account).size(), "one settlement per program");
    assertEquals(threads * perThread, paid.get() + refused.get());
    assertTrue(paid.get() > 0);
  }

  /** Programs of one session metered on many threads: their receipts' costs are the session's row, exactly. */
  @Test
  void aSessionsMeteredProgramsOnManyThreadsAddUpToItsRow() throws Exception {
    PriceTable table = Fixtures.exampleTable();
    PublicKey account = Fixtures.RENTER.publicKey();
    SettableClock clock = new SettableClock(Fixtures.VALID_FROM.plusSeconds(1));
    InMemoryLedger ledger = new InMemoryLedger(clock, table.limits().maxBalance());
    Reservations holds = new Reservations(ledger, clock, Duration.ofHours(1), Amount.of(300_000));
    long initial = 9_000_000;
    ledger.deposit(account, Amount.of(initial));
    SessionHold session = holds.openSession(account, Amount.of(8_000_000), 1, clock.instant().plusSeconds(600));
    ProgramShape program = Fixtures.exampleProgram();
    int threads = 6;
    int perThread = 40;
    AtomicLong spent = new AtomicLong();
    AtomicLong settled = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      done.add(pool.submit(() -> {
        go.await();
        SplittableRandom random = new SplittableRandom(thread);
        for (int i = 0; i < perThread; i++) {
          Reservation held;
          try {
            held = session.reserve(Amount.of(70_000));
          } catch (PricingException e) {
            assertEquals(PricingException.Reason.UNCOMMITTED_RISK, e.reason(), e.getMessage());
            continue;
          }
          Meter meter = Meter.open(table, Fixtures.programId("s" + thread + "-" + i), null, held.amount(), 200, 10,
              holds.refunderFor(held), Fixtures.CLOCK);
          int stopAfter = random.nextInt(4);
          meter.chargeUpload(1300);
          for (int k = 0; k < stopAfter; k++) {
            meter.chargeInstruction(program.instructions().get(k));
            meter.chargeOutput(random.nextInt(65), Fixtures.leaf(k));
          }
          if (stopAfter < 3) {
            meter.fail(stopAfter, 4, "stopped");
          }
          Receipt r = meter.close();
          if (!held.isCommitted()) {
            throw new AssertionError("not settled", held.failureOrNull());
          }
          spent.addAndGet(r.finalCost().units());
          settled.incrementAndGet();
        }
        return null;
      }));
    }
    go.countDown();
    for (Future<?> f : done) {
      f.get();
    }
    pool.shutdown();
    assertTrue(settled.get() > 0);
    List<Settlement> rows = ledger.settlements(account);
    assertEquals(1, rows.size(), "one row for the session");
    assertEquals(Settlement.Kind.SESSION, rows.get(0).kind());
    assertEquals(settled.get(), rows.get(0).programs());
    assertEquals(Amount.of(spent.get()), rows.get(0).cost());
    assertEquals(initial - spent.get(), ledger.balance(account).units());
    assertEquals(Amount.of(8_000_000 - spent.get()), session.remaining());
    assertEquals(Amount.ZERO, holds.held(), "every program's budget was given back");
    session.close();
    assertEquals(Amount.ZERO, holds.held(account));
    assertEquals(ledger.balance(account), holds.spendable(account));
  }
}
