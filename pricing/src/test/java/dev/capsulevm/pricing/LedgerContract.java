package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Ledger} does (the semantics of {@link InMemoryLedger}), alone and behind
 * {@link Reservations}: balances, a maximum balance on deposits, settlements refused when replayed or
 * short, nonces remembered until their withdrawal expires, budgets held in memory and charged once,
 * nothing taken for a program in flight when the ledger is reopened, and atomic operations under
 * concurrency. An implementation's test extends this class; a durable one also overrides {@link #reopen}
 * so that the state must survive it. Published in pricing's test-jar.
 */
public abstract class LedgerContract {
  protected static final Amount MAX_BALANCE = Amount.of(1_000_000);
  protected static final Duration WINDOW = Duration.ofMinutes(10);
  protected static final Instant START = Instant.ofEpochSecond(1_800_000_000L);

  /** A fresh, empty ledger reading time from {@code clock}, with the given maximum balance. */
  protected abstract Ledger newLedger(Clock clock, Amount maxBalance) throws Exception;

  /**
   * The same ledger after a restart (closed and opened again from where it keeps its state), or the
   * ledger itself for one that keeps nothing.
   */
  protected Ledger reopen(Ledger ledger, Clock clock, Amount maxBalance) throws Exception {
    return ledger;
  }

  protected static PublicKey account(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed).publicKey();
  }

  private final SettableClock clock = new SettableClock(START);
  private final PublicKey alice = account(0x51);
  private final PublicKey bob = account(0x52);
  private final PublicKey carol = account(0x53);

  /** A program id for the tests: the hash of its number. */
  protected static Hash program(int n) {
    return Sha256.hash(Domain.PROGRAM_ID, new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
  }

  private interface Call {
    void run() throws Exception;
  }

  private static PricingException.Reason reasonOf(Call call) {
    return assertThrows(PricingException.class, call::run).reason();
  }

  private Ledger fresh() throws Exception {
    return newLedger(clock, MAX_BALANCE);
  }

  private Reservations holds(Ledger ledger, long maxUncommitted) {
    return new Reservations(ledger, clock, WINDOW, Amount.of(maxUncommitted));
  }

  private Instant soon() {
    return clock.instant().plusSeconds(300);
  }

  private Settlement settlement(PublicKey account, long nonce, long cost, int program) {
    return new Settlement(account, nonce, soon(), program(program), Amount.of(cost));
  }

  // ---- the durable ledger

  @Test
  void depositsAndSettlementsMoveBalances() throws Exception {
    Ledger ledger = fresh();
    assertEquals(Amount.ZERO, ledger.balance(alice), "an account never seen holds nothing");
    ledger.deposit(alice, Amount.of(100_000));
    ledger.deposit(alice, Amount.of(5));
    ledger.settle(settlement(alice, 1, 68_766, 1));
    assertEquals(Amount.of(31_239), ledger.balance(alice));
    assertEquals(Amount.ZERO, ledger.balance(bob), "other accounts are untouched");
    assertEquals(List.of(settlement(alice, 1, 68_766, 1)), ledger.settlements(alice), "the settlement is listed");
    assertEquals(List.of(), ledger.settlements(bob));
  }

  @Test
  void theLastProgramIsTheLastOneSettledAndNothingElseChangesIt() throws Exception {
    Ledger ledger = fresh();
    assertNull(ledger.lastProgram(alice), "no program settled yet");
    ledger.deposit(alice, Amount.of(1_000));
    assertNull(ledger.lastProgram(alice), "a deposit settles no program");
    ledger.settle(settlement(alice, 1, 60, 7));
    assertEquals(program(7), ledger.lastProgram(alice));
    ledger.settle(settlement(alice, 2, 0, 8));
    assertEquals(program(8), ledger.lastProgram(alice), "a program that cost nothing is settled too");
    ledger.deposit(alice, Amount.of(1));
    assertEquals(program(8), ledger.lastProgram(alice));
    assertNull(ledger.lastProgram(bob), "per account");
  }

  @Test
  void theMaximumBalanceRefusesDeposits() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(999_000));
    assertEquals(PricingException.Reason.BALANCE_LIMIT, reasonOf(() -> ledger.deposit(alice, Amount.of(1_001))));
    assertEquals(Amount.of(999_000), ledger.balance(alice), "a refused deposit changes nothing");
    ledger.deposit(alice, Amount.of(1_000));
    assertEquals(MAX_BALANCE, ledger.balance(alice));
    assertEquals(PricingException.Reason.BALANCE_LIMIT, reasonOf(() -> ledger.deposit(alice, Amount.MAX)));
  }

  @Test
  void aSettlementIsRefusedWhenReplayedOrShortAndChangesNothing() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(100));
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE,
        reasonOf(() -> ledger.settle(settlement(alice, 1, 101, 1))));
    assertFalse(ledger.nonceUsed(alice, 1), "a refused settlement does not use its nonce");
    ledger.settle(settlement(alice, 1, 10, 1));
    assertTrue(ledger.nonceUsed(alice, 1));
    assertEquals(PricingException.Reason.REPLAYED_NONCE, reasonOf(() -> ledger.settle(settlement(alice, 1, 1, 2))));
    assertEquals(Amount.of(90), ledger.balance(alice));
    assertEquals(program(1), ledger.lastProgram(alice), "the refused one is not the last program");
    // Nonces are per account.
    ledger.deposit(bob, Amount.of(10));
    assertFalse(ledger.nonceUsed(bob, 1));
    ledger.settle(settlement(bob, 1, 10, 3));
    assertEquals(Amount.ZERO, ledger.balance(bob));
  }

  @Test
  void aNonceIsRememberedUntilItsWithdrawalExpiresThenForgotten() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(100));
    Instant expiry = clock.instant().plusSeconds(60);
    ledger.settle(new Settlement(alice, 9, expiry, program(1), Amount.of(1)));
    clock.advance(Duration.ofSeconds(59));
    assertTrue(ledger.nonceUsed(alice, 9));
    assertEquals(1, ledger.settlements(alice).size());
    clock.advance(Duration.ofSeconds(1));
    // The withdrawal has expired, so it could not be presented again anyway; its nonce is forgotten.
    assertFalse(ledger.nonceUsed(alice, 9));
    assertEquals(List.of(), ledger.settlements(alice));
    ledger.settle(new Settlement(alice, 9, clock.instant().plusSeconds(60), program(2), Amount.of(1)));
    assertEquals(Amount.of(98), ledger.balance(alice));
  }

  @Test
  void balancesSettlementsAndNoncesSurviveAReopen() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(500));
    ledger.settle(settlement(alice, 77, 150, 4));
    ledger.deposit(bob, Amount.of(3));
    ledger.settle(settlement(bob, 5, 0, 5));
    ledger.deposit(carol, Amount.of(9));
    Ledger again = reopen(ledger, clock, MAX_BALANCE);
    assertEquals(Amount.of(350), again.balance(alice));
    assertEquals(Amount.of(3), again.balance(bob));
    assertEquals(program(4), again.lastProgram(alice));
    assertEquals(program(5), again.lastProgram(bob));
    assertNull(again.lastProgram(carol), "an account with a balance but no program settled");
    assertEquals(List.of(settlement(alice, 77, 150, 4)), again.settlements(alice));
    assertEquals(PricingException.Reason.REPLAYED_NONCE, reasonOf(() -> again.settle(settlement(alice, 77, 1, 6))));
    again.settle(settlement(alice, 78, 1, 6));
    assertEquals(Amount.of(349), again.balance(alice));
  }

  // ---- behind reservations

  @Test
  void aReservationHoldsTheBudgetInMemoryAndOnlyTheCostIsWritten() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(100_000));
    Reservations holds = holds(ledger, 1_000_000);
    Reservation r = holds.reserve(alice, Amount.of(70_000), 1, soon());
    assertEquals(Amount.of(100_000), ledger.balance(alice), "nothing is written at admission");
    assertEquals(Amount.of(30_000), holds.spendable(alice));
    assertEquals(Amount.of(70_000), holds.held(alice));
    assertEquals(Amount.of(70_000), holds.held());
    assertFalse(ledger.nonceUsed(alice, 1), "the nonce is held in memory, not written");
    holds.refunderFor(r).refund(Amount.of(3_234), program(1));
    assertTrue(r.isCommitted());
    assertEquals(Amount.of(33_234), ledger.balance(alice), "the cost, 66,766, and nothing else is taken");
    assertEquals(List.of(new Settlement(alice, 1, r.expiry(), program(1), Amount.of(66_766))),
        ledger.settlements(alice));
    assertEquals(program(1), ledger.lastProgram(alice));
    assertEquals(Amount.ZERO, holds.held(), "the hold is given back");
    assertEquals(Amount.of(33_234), holds.spendable(alice));
    assertEquals(0, holds.count());
  }

  @Test
  void aReleasedReservationTakesNothingAndFreesItsNonce() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(100));
    Reservations holds = holds(ledger, 1_000_000);
    Reservation r = holds.reserve(alice, Amount.of(100), 1, soon());
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE,
        reasonOf(() -> holds.reserve(alice, Amount.of(1), 2, soon())), "the held budget is not spendable twice");
    r.release();
    r.release(); // once only
    assertEquals(Amount.of(100), holds.spendable(alice));
    assertEquals(Amount.of(100), ledger.balance(alice));
    assertNull(ledger.lastProgram(alice), "a released reservation settles no program");
    assertThrows(IllegalStateException.class, r::committed, "a released hold cannot be committed");
    Reservation again = holds.reserve(alice, Amount.of(100), 1, soon());
    assertTrue(again.isHeld(), "the nonce of a released reservation is free again");
  }

  @Test
  void reservationsAreRefusedWhenExpiredTooFarReplayedShortOrOverTheRisk() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(400));
    ledger.deposit(bob, Amount.of(1_000));
    Reservations holds = holds(ledger, 500);
    assertEquals(PricingException.Reason.EXPIRED,
        reasonOf(() -> holds.reserve(alice, Amount.of(1), 1, clock.instant())));
    assertEquals(PricingException.Reason.EXPIRY_TOO_FAR,
        reasonOf(() -> holds.reserve(alice, Amount.of(1), 1, clock.instant().plus(WINDOW).plusSeconds(1))));
    assertEquals(PricingException.Reason.LIMIT_EXCEEDED,
        reasonOf(() -> holds.reserve(alice, Amount.of(501), 1, soon())), "a budget above the risk never fits");
    Reservation first = holds.reserve(alice, Amount.of(300), 1, soon());
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> holds.reserve(alice, Amount.of(1), 1, soon())), "a nonce in flight");
    PricingException risk = assertThrows(PricingException.class, () -> holds.reserve(bob, Amount.of(201), 1, soon()));
    assertEquals(PricingException.Reason.UNCOMMITTED_RISK, risk.reason());
    assertTrue(risk.getMessage().contains("maxUncommittedRisk of 500 units"), risk.getMessage());
    Reservation second = holds.reserve(bob, Amount.of(200), 1, soon());
    assertEquals(Amount.of(500), holds.held());
    holds.refunderFor(first).refund(Amount.of(100), program(1));
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> holds.reserve(alice, Amount.of(1), 1, soon())), "a nonce settled");
    assertEquals(Amount.of(200), ledger.balance(alice));
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE,
        reasonOf(() -> holds.reserve(alice, Amount.of(201), 2, soon())));
    holds.reserve(alice, Amount.of(200), 2, soon());
    second.release();
    assertEquals(Amount.of(200), holds.held(), "refusals hold nothing");
  }

  @Test
  void aProgramInFlightAtARestartTakesNothingAndASettledOneIsNotChargedTwice() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(10_000));
    Reservations holds = holds(ledger, 1_000_000);
    Reservation settled = holds.reserve(alice, Amount.of(1_000), 1, soon());
    holds.refunderFor(settled).refund(Amount.of(400), program(1));
    Reservation inFlight = holds.reserve(alice, Amount.of(5_000), 2, soon());
    assertTrue(inFlight.isHeld());
    // The host dies: its memory, the hold of the program in flight with it, is gone.
    Ledger again = reopen(ledger, clock, MAX_BALANCE);
    Reservations after = holds(again, 1_000_000);
    assertEquals(Amount.of(9_400), again.balance(alice), "only the settled program's cost was taken");
    assertEquals(Amount.of(9_400), after.spendable(alice));
    assertEquals(List.of(new Settlement(alice, 1, settled.expiry(), program(1), Amount.of(600))),
        again.settlements(alice));
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> after.reserve(alice, Amount.of(1), 1, soon())), "a settled withdrawal stays spent");
    // The withdrawal of the program in flight was never charged, so it may pay once, now.
    Reservation retried = after.reserve(alice, Amount.of(5_000), 2, soon());
    after.refunderFor(retried).refund(Amount.of(4_000), program(2));
    assertEquals(Amount.of(8_400), again.balance(alice));
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> after.reserve(alice, Amount.of(1), 2, soon())));
  }

  @Test
  void aSettlementTheLedgerRefusesReleasesTheHoldAndSaysWhy() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(100));
    Reservations holds = holds(ledger, 1_000_000);
    Reservation r = holds.reserve(alice, Amount.of(100), 1, soon());
    // Someone settles the nonce behind the reservations' back: the refunder's settlement is refused.
    ledger.settle(settlement(alice, 1, 10, 9));
    holds.refunderFor(r).refund(Amount.of(50), program(1));
    assertFalse(r.isCommitted());
    assertFalse(r.isHeld());
    PricingException why = (PricingException) r.failureOrNull();
    assertEquals(PricingException.Reason.REPLAYED_NONCE, why.reason());
    assertEquals(Amount.ZERO, holds.held());
    assertEquals(Amount.of(90), ledger.balance(alice), "only the other settlement was taken");
    assertThrows(IllegalArgumentException.class, () -> r.settlement(Amount.of(101), program(1)),
        "a refund above the budget has no settlement");
  }

  @Test
  void concurrentProgramsNeitherOverdrawNorLoseAUnitNorPayTwice() throws Exception {
    Ledger ledger = fresh();
    long initial = 50_000;
    ledger.deposit(alice, Amount.of(initial));
    Reservations holds = holds(ledger, 20_000);
    int threads = 4;
    int perThread = 40;
    AtomicLong kept = new AtomicLong();
    AtomicLong paid = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      done.add(pool.submit(() -> {
        go.await();
        SplittableRandom random = new SplittableRandom(thread);
        for (int i = 0; i < perThread; i++) {
          long nonce = (long) thread * perThread + i;
          long amount = 500 + random.nextInt(1000);
          Reservation r;
          try {
            r = holds.reserve(alice, Amount.of(amount), nonce, soon());
          } catch (PricingException e) {
            assertTrue(e.reason() == PricingException.Reason.INSUFFICIENT_BALANCE
                || e.reason() == PricingException.Reason.UNCOMMITTED_RISK, e.getMessage());
            continue;
          }
          paid.incrementAndGet();
          // Every nonce is presented twice: the replay must never pay.
          assertEquals(PricingException.Reason.REPLAYED_NONCE,
              reasonOf(() -> holds.reserve(alice, Amount.of(1), nonce, soon())));
          long spent = random.nextLong(amount + 1);
          Refunder refunder = holds.refunderFor(r);
          refunder.refund(Amount.of(amount - spent), program((int) nonce));
          assertTrue(r.isCommitted());
          kept.addAndGet(spent);
          assertEquals(PricingException.Reason.REPLAYED_NONCE,
              reasonOf(() -> holds.reserve(alice, Amount.of(1), nonce, soon())));
        }
        return null;
      }));
    }
    go.countDown();
    for (Future<?> f : done) {
      f.get();
    }
    pool.shutdown();
    assertTrue(paid.get() > 0);
    assertEquals(initial, ledger.balance(alice).units() + kept.get(), "every unit is in the account or was spent");
    assertEquals(Amount.ZERO, holds.held());
    assertEquals(paid.get(), ledger.settlements(alice).size());
    long charged = 0;
    for (Settlement s : ledger.settlements(alice)) {
      charged += s.cost().units();
    }
    assertEquals(kept.get(), charged, "the settlements explain every unit spent");
    assertSame(ledger, holds.ledger());
  }

  // ---- payment sessions: the ledger

  private Settlement sessionProgram(PublicKey account, long nonce, long cost, int program) {
    return Settlement.sessionProgram(account, nonce, soon(), program(program), Amount.of(cost));
  }

  private static Settlement sessionRow(PublicKey account, long nonce, Instant expiry, int lastProgram, long cost,
      int programs) {
    return new Settlement(account, nonce, expiry, program(lastProgram), Amount.of(cost), Settlement.Kind.SESSION,
        programs);
  }

  @Test
  void aSessionsProgramsAccumulateInOneRowUnderItsNonce() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(1_000));
    Instant expiry = soon();
    assertFalse(ledger.nonceUsed(alice, 40));
    ledger.settle(Settlement.sessionProgram(alice, 40, expiry, program(1), Amount.of(100)));
    assertTrue(ledger.nonceUsed(alice, 40), "used once one program of the session settled");
    ledger.settle(Settlement.sessionProgram(alice, 40, expiry.plusSeconds(5), program(2), Amount.of(0)));
    ledger.settle(Settlement.sessionProgram(alice, 40, expiry, program(3), Amount.of(250)));
    ledger.settle(settlement(alice, 41, 7, 4));
    assertEquals(Amount.of(643), ledger.balance(alice), "each program's cost is taken");
    assertEquals(program(4), ledger.lastProgram(alice));
    ledger.settle(Settlement.sessionProgram(alice, 40, expiry, program(5), Amount.of(1)));
    assertEquals(program(5), ledger.lastProgram(alice), "a session program becomes the account's last");
    assertEquals(List.of(sessionRow(alice, 40, expiry, 5, 351, 4), settlement(alice, 41, 7, 4)),
        ledger.settlements(alice), "one row per nonce: the session's with its totals, its first expiry kept");
    assertEquals(Amount.of(642), ledger.balance(alice));
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE,
        reasonOf(() -> ledger.settle(sessionProgram(alice, 40, 643, 6))));
    assertEquals(sessionRow(alice, 40, expiry, 5, 351, 4), ledger.settlements(alice).get(0),
        "a refused program changes nothing of the row");
    assertEquals(program(5), ledger.lastProgram(alice));
  }

  @Test
  void aWithdrawalsNonceCannotPayASessionNorASessionsAWithdrawal() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(1_000));
    ledger.settle(settlement(alice, 1, 10, 1));
    assertEquals(PricingException.Reason.REPLAYED_NONCE, reasonOf(() -> ledger.settle(sessionProgram(alice, 1, 5, 2))),
        "a withdrawal's nonce replayed as a session");
    ledger.settle(sessionProgram(alice, 2, 20, 3));
    assertEquals(PricingException.Reason.REPLAYED_NONCE, reasonOf(() -> ledger.settle(settlement(alice, 2, 5, 4))),
        "a session's nonce replayed as a withdrawal");
    assertEquals(Amount.of(970), ledger.balance(alice), "refusals take nothing");
    assertEquals(program(3), ledger.lastProgram(alice));
    assertEquals(List.of(settlement(alice, 1, 10, 1), sessionRow(alice, 2, soon(), 3, 20, 1)),
        ledger.settlements(alice));
    // Sessions' nonces are per account too.
    ledger.deposit(bob, Amount.of(10));
    ledger.settle(sessionProgram(bob, 1, 10, 5));
    assertEquals(Amount.ZERO, ledger.balance(bob));
  }

  @Test
  void aSessionsRowSurvivesAReopenKeepsAccumulatingAndIsForgottenAtItsExpiry() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(1_000));
    Instant expiry = clock.instant().plusSeconds(60);
    ledger.settle(Settlement.sessionProgram(alice, 9, expiry, program(1), Amount.of(30)));
    ledger.settle(Settlement.sessionProgram(alice, 9, expiry, program(2), Amount.of(12)));
    Ledger again = reopen(ledger, clock, MAX_BALANCE);
    assertEquals(List.of(sessionRow(alice, 9, expiry, 2, 42, 2)), again.settlements(alice));
    assertEquals(Amount.of(958), again.balance(alice));
    assertEquals(program(2), again.lastProgram(alice));
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> again.settle(new Settlement(alice, 9, expiry, program(3), Amount.of(1)))));
    again.settle(Settlement.sessionProgram(alice, 9, expiry, program(3), Amount.of(8)));
    assertEquals(List.of(sessionRow(alice, 9, expiry, 3, 50, 3)), again.settlements(alice));
    clock.advance(Duration.ofSeconds(59));
    assertTrue(again.nonceUsed(alice, 9));
    clock.advance(Duration.ofSeconds(1));
    assertFalse(again.nonceUsed(alice, 9), "the session has expired: its nonce is forgotten");
    assertEquals(List.of(), again.settlements(alice));
    assertEquals(Amount.of(950), again.balance(alice), "its costs stay taken");
  }

  // ---- payment sessions behind reservations

  @Test
  void aSessionHoldsItsAmountOutsideTheExposureAndEachProgramSettlesIntoItsRow() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(100_000));
    Reservations holds = holds(ledger, 1_000);
    SessionHold session = holds.openSession(alice, Amount.of(10_000), 5, soon());
    assertEquals(Amount.ZERO, holds.held(), "a session's amount is not exposure: nothing is done for it yet");
    assertEquals(Amount.of(10_000), holds.held(alice), "but the account cannot spend it twice");
    assertEquals(Amount.of(90_000), holds.spendable(alice));
    assertEquals(Amount.of(100_000), ledger.balance(alice), "nothing is written");
    assertFalse(ledger.nonceUsed(alice, 5));
    assertEquals(List.of(alice, 5L, soon(), Amount.of(10_000)),
        List.of(session.account(), session.nonce(), session.expiry(), session.amount()));

    Reservation first = session.reserve(Amount.of(800));
    assertSame(session, first.sessionOrNull());
    assertEquals(List.of(alice, 5L, soon()), List.of(first.account(), first.nonce(), first.expiry()));
    assertEquals(Amount.of(800), holds.held(), "the program's budget is exposure while it runs");
    assertEquals(Amount.of(9_200), session.remaining());
    assertEquals(1, session.inFlight());
    assertEquals(1, holds.count());
    assertEquals(Amount.of(10_000), holds.held(alice), "carved from the session's hold, not added to it");
    holds.refunderFor(first).refund(Amount.of(300), program(1));
    assertTrue(first.isCommitted());
    assertEquals(Amount.of(99_500), ledger.balance(alice), "the cost, 500, is taken");
    assertEquals(Amount.of(9_500), holds.held(alice), "and no longer held");
    assertEquals(Amount.of(90_000), holds.spendable(alice), "so what the account may spend is unchanged");
    assertEquals(Amount.of(9_500), session.remaining(), "the unspent 300 went back to the session");
    assertEquals(Amount.of(500), session.charged());
    assertEquals(1, session.programs());
    assertEquals(0, session.inFlight());
    assertEquals(Amount.ZERO, holds.held());
    assertEquals(0, holds.count());

    Reservation second = session.reserve(Amount.of(1_000));
    holds.refunderFor(second).refund(Amount.of(1_000), program(2));
    assertEquals(List.of(sessionRow(alice, 5, soon(), 2, 500, 2)), ledger.settlements(alice),
        "one row: both programs, the second cost nothing");
    assertEquals(program(2), ledger.lastProgram(alice));
    assertEquals(2, session.programs());
    assertTrue(ledger.nonceUsed(alice, 5));
  }

  @Test
  void aSessionProgramsReleaseGivesItsBudgetBackToTheSession() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(5_000));
    Reservations holds = holds(ledger, 1_000_000);
    SessionHold session = holds.openSession(alice, Amount.of(3_000), 5, soon());
    Reservation r = session.reserve(Amount.of(2_000));
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE,
        reasonOf(() -> holds.reserve(alice, Amount.of(2_001), 6, soon())), "the session's amount is held");
    r.release();
    r.release(); // once only
    assertEquals(Amount.of(3_000), session.remaining());
    assertEquals(Amount.ZERO, session.charged());
    assertEquals(0, session.programs());
    assertEquals(Amount.ZERO, holds.held());
    assertEquals(Amount.of(3_000), holds.held(alice));
    assertEquals(Amount.of(5_000), ledger.balance(alice));
    assertFalse(ledger.nonceUsed(alice, 5));
    assertThrows(IllegalStateException.class, r::committed, "a released hold cannot be committed");
    Reservation unsettled = session.reserve(Amount.of(10));
    assertThrows(IllegalStateException.class, unsettled::committed,
        "a session program committed without a settlement has no known cost");
    assertTrue(unsettled.isHeld(), "and stays held");
    unsettled.release();
    assertEquals(Amount.of(3_000), session.remaining());
  }

  @Test
  void aSessionProgramIsRefusedOverTheRemainderTheRiskOrItsOwnLimit() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(10_000));
    ledger.deposit(bob, Amount.of(10_000));
    Reservations holds = holds(ledger, 1_000);
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE,
        reasonOf(() -> holds.openSession(alice, Amount.of(10_001), 1, soon())));
    SessionHold session = holds.openSession(alice, Amount.of(5_000), 1, soon());
    assertEquals(Amount.of(5_000), holds.spendable(alice));
    assertEquals(PricingException.Reason.LIMIT_EXCEEDED, reasonOf(() -> session.reserve(Amount.of(1_001))),
        "a program's budget above the risk never fits");
    Reservation a = session.reserve(Amount.of(700));
    Reservation withdrawal = holds.reserve(bob, Amount.of(200), 1, soon());
    PricingException risk = assertThrows(PricingException.class, () -> session.reserve(Amount.of(101)));
    assertEquals(PricingException.Reason.UNCOMMITTED_RISK, risk.reason(),
        "the session's programs and the withdrawals in flight share the bound");
    assertEquals(PricingException.Reason.UNCOMMITTED_RISK, reasonOf(() -> holds.reserve(bob, Amount.of(101), 2, soon())));
    Reservation b = session.reserve(Amount.of(100));
    assertEquals(Amount.of(1_000), holds.held());
    holds.refunderFor(a).refund(Amount.ZERO, program(1));
    holds.refunderFor(b).refund(Amount.ZERO, program(2));
    withdrawal.release();
    assertEquals(Amount.ZERO, holds.held());
    // Take the session down to 300 units.
    for (int i = 0; i < 4; i++) {
      holds.refunderFor(session.reserve(Amount.of(1_000))).refund(Amount.ZERO, program(3 + i));
    }
    assertEquals(Amount.of(200), session.remaining());
    PricingException shortOf = assertThrows(PricingException.class, () -> session.reserve(Amount.of(201)));
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE, shortOf.reason());
    assertTrue(shortOf.getMessage().contains("has 200 units left of its 5000"), shortOf.getMessage());
    assertEquals(Amount.of(200), session.remaining(), "a refusal holds nothing");
    holds.refunderFor(session.reserve(Amount.of(200))).refund(Amount.of(50), program(9));
    assertEquals(Amount.of(50), session.remaining());
    assertEquals(Amount.of(4_950), session.charged());
    assertEquals(7, session.programs());
    assertEquals(Amount.of(5_050), ledger.balance(alice));
    assertEquals(Amount.of(50), holds.held(alice));
  }

  @Test
  void aSessionsNonceIsExclusiveWithWithdrawalsAndOtherSessions() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(10_000));
    Reservations holds = holds(ledger, 1_000_000);
    Reservation w = holds.reserve(alice, Amount.of(100), 1, soon());
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> holds.openSession(alice, Amount.of(100), 1, soon())), "a withdrawal in flight holds it");
    holds.refunderFor(w).refund(Amount.ZERO, program(1));
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> holds.openSession(alice, Amount.of(100), 1, soon())), "a settled withdrawal used it");
    SessionHold session = holds.openSession(alice, Amount.of(1_000), 2, soon());
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> holds.reserve(alice, Amount.of(1), 2, soon())), "an open session holds its nonce");
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> holds.openSession(alice, Amount.of(1), 2, soon())), "and cannot be opened twice");
    holds.refunderFor(session.reserve(Amount.of(10))).refund(Amount.ZERO, program(2));
    session.close();
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> holds.openSession(alice, Amount.of(1), 2, soon())), "a session with a program settled is spent");
    assertEquals(PricingException.Reason.REPLAYED_NONCE, reasonOf(() -> holds.reserve(alice, Amount.of(1), 2, soon())));
    SessionHold unused = holds.openSession(alice, Amount.of(1_000), 3, soon());
    unused.close();
    assertEquals(Amount.ZERO, holds.held(alice));
    SessionHold reopened = holds.openSession(alice, Amount.of(1_000), 3, soon());
    assertFalse(reopened.isClosed(), "a session closed with nothing charged leaves its nonce unused, as a release does");
  }

  @Test
  void closingWithProgramsInFlightReleasesTheRemainderOnlyWhenTheyEnd() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(10_000));
    Reservations holds = holds(ledger, 1_000_000);
    SessionHold session = holds.openSession(alice, Amount.of(6_000), 7, soon());
    Reservation settling = session.reserve(Amount.of(1_000));
    Reservation releasing = session.reserve(Amount.of(2_000));
    session.close();
    session.close(); // idempotent
    assertTrue(session.isClosed());
    assertEquals(PricingException.Reason.EXPIRED, reasonOf(() -> session.reserve(Amount.of(1))),
        "a closed session funds no new program");
    assertEquals(Amount.of(6_000), holds.held(alice), "held while its programs run");
    assertEquals(Amount.of(4_000), holds.spendable(alice));
    holds.refunderFor(settling).refund(Amount.of(600), program(1));
    assertEquals(Amount.of(5_600), holds.held(alice), "the settled cost is taken, the rest still held");
    assertEquals(Amount.of(4_000), holds.spendable(alice));
    assertEquals(1, session.inFlight());
    releasing.release();
    assertEquals(Amount.ZERO, holds.held(alice), "the last program ended: the remainder went back");
    assertEquals(Amount.of(9_600), holds.spendable(alice));
    assertEquals(Amount.of(9_600), ledger.balance(alice), "nothing was written for the remainder");
    assertEquals(Amount.of(5_600), session.remaining());
    assertEquals(Amount.of(400), session.charged());
    assertEquals(List.of(sessionRow(alice, 7, soon(), 1, 400, 1)), ledger.settlements(alice));
    session.close();
    assertEquals(Amount.ZERO, holds.held(alice), "a late close gives nothing back twice");
    assertEquals(Amount.ZERO, holds.held());
    assertEquals(0, holds.count());
  }

  @Test
  void aSessionPastItsExpiryRefusesProgramsAndCloses() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(10_000));
    Reservations holds = holds(ledger, 1_000_000);
    assertEquals(PricingException.Reason.EXPIRED,
        reasonOf(() -> holds.openSession(alice, Amount.of(1), 1, clock.instant())));
    assertEquals(PricingException.Reason.EXPIRY_TOO_FAR,
        reasonOf(() -> holds.openSession(alice, Amount.of(1), 1, clock.instant().plus(WINDOW).plusSeconds(1))));
    assertEquals(Amount.ZERO, holds.held(alice), "refusals hold nothing");
    Instant expiry = clock.instant().plusSeconds(60);
    SessionHold session = holds.openSession(alice, Amount.of(5_000), 1, expiry);
    Reservation running = session.reserve(Amount.of(1_000));
    clock.advance(Duration.ofSeconds(60));
    assertEquals(PricingException.Reason.EXPIRED, reasonOf(() -> session.reserve(Amount.of(1))));
    assertTrue(session.isClosed(), "an expired session closes");
    assertEquals(Amount.of(5_000), holds.held(alice), "its program in flight still runs on it");
    holds.refunderFor(running).refund(Amount.of(900), program(1));
    assertTrue(running.isCommitted(), "a program admitted before the expiry settles after it");
    assertEquals(Amount.ZERO, holds.held(alice));
    assertEquals(Amount.of(9_900), ledger.balance(alice));
  }

  @Test
  void aHostThatDiesWithASessionOpenHasTakenOnlyItsSettledPrograms() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(10_000));
    Reservations holds = holds(ledger, 1_000_000);
    SessionHold session = holds.openSession(alice, Amount.of(8_000), 3, soon());
    holds.refunderFor(session.reserve(Amount.of(1_000))).refund(Amount.of(700), program(1));
    holds.refunderFor(session.reserve(Amount.of(1_000))).refund(Amount.of(800), program(2));
    Reservation inFlight = session.reserve(Amount.of(4_000));
    assertTrue(inFlight.isHeld());
    // The host dies: the session's remainder and the program in flight vanish with its memory.
    Ledger again = reopen(ledger, clock, MAX_BALANCE);
    Reservations after = holds(again, 1_000_000);
    assertEquals(Amount.of(9_500), again.balance(alice), "only the settled programs' costs were taken");
    assertEquals(Amount.of(9_500), after.spendable(alice));
    assertEquals(List.of(sessionRow(alice, 3, soon(), 2, 500, 2)), again.settlements(alice));
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> after.openSession(alice, Amount.of(1), 3, soon())), "the session cannot be opened again");
  }

  @Test
  void concurrentProgramsOfOneSessionAddUpExactly() throws Exception {
    Ledger ledger = fresh();
    long initial = 500_000;
    ledger.deposit(alice, Amount.of(initial));
    Reservations holds = holds(ledger, 5_000);
    // Large enough that no program finds the remainder short: only the risk bound refuses.
    SessionHold session = holds.openSession(alice, Amount.of(400_000), 11, soon());
    int threads = 4;
    int perThread = 50;
    AtomicLong kept = new AtomicLong();
    AtomicLong paid = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      done.add(pool.submit(() -> {
        go.await();
        SplittableRandom random = new SplittableRandom(thread);
        for (int i = 0; i < perThread; i++) {
          long budget = 500 + random.nextInt(1000);
          Reservation r;
          try {
            r = session.reserve(Amount.of(budget));
          } catch (PricingException e) {
            assertEquals(PricingException.Reason.UNCOMMITTED_RISK, e.reason(), e.getMessage());
            continue;
          }
          if (random.nextInt(5) == 0) {
            r.release();
            continue;
          }
          long spent = random.nextLong(budget + 1);
          holds.refunderFor(r).refund(Amount.of(budget - spent), program(thread * perThread + i));
          assertTrue(r.isCommitted());
          paid.incrementAndGet();
          kept.addAndGet(spent);
        }
        return null;
      }));
    }
    go.countDown();
    for (Future<?> f : done) {
      f.get();
    }
    pool.shutdown();
    assertTrue(paid.get() > 0);
    assertEquals(initial - kept.get(), ledger.balance(alice).units(), "every settled cost is taken, once");
    assertEquals(List.of(new Settlement(alice, 11, soon(), java.util.Objects.requireNonNull(ledger.lastProgram(alice)),
        Amount.of(kept.get()),
        Settlement.Kind.SESSION, (int) paid.get())), ledger.settlements(alice), "one row with the exact totals");
    assertEquals(Amount.of(kept.get()), session.charged());
    assertEquals(paid.get(), session.programs());
    assertEquals(Amount.of(400_000 - kept.get()), session.remaining());
    assertEquals(Amount.ZERO, holds.held());
    assertEquals(Amount.of(400_000 - kept.get()), holds.held(alice));
    session.close();
    assertEquals(Amount.ZERO, holds.held(alice));
    assertEquals(ledger.balance(alice), holds.spendable(alice));
  }
}
