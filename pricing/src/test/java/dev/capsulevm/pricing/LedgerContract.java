package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
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
 * What every {@link Ledger} does (the semantics of {@link InMemoryLedger}): balances, a maximum balance
 * that refunds may exceed, withdrawals refused when short, expired, too far ahead or replayed, nonces
 * remembered until their withdrawal expires, and atomic operations under concurrency. An implementation's
 * test extends this class; a durable one also overrides {@link #reopen} so that the state must survive it.
 * Published in pricing's test-jar.
 */
public abstract class LedgerContract {
  protected static final Amount MAX_BALANCE = Amount.of(1_000_000);
  protected static final Duration WINDOW = Duration.ofMinutes(10);
  protected static final Instant START = Instant.ofEpochSecond(1_800_000_000L);

  /** A fresh, empty ledger reading time from {@code clock}, with the given maximum and window. */
  protected abstract Ledger newLedger(Clock clock, Amount maxBalance, Duration maxExpiryAhead) throws Exception;

  /**
   * The same ledger after a restart (closed and opened again from where it keeps its state), or the
   * ledger itself for one that keeps nothing.
   */
  protected Ledger reopen(Ledger ledger, Clock clock, Amount maxBalance, Duration maxExpiryAhead) throws Exception {
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
    return newLedger(clock, MAX_BALANCE, WINDOW);
  }

  private Instant soon() {
    return clock.instant().plusSeconds(300);
  }

  @Test
  void depositsWithdrawalsAndRefundsMoveBalances() throws Exception {
    Ledger ledger = fresh();
    assertEquals(Amount.ZERO, ledger.balance(alice), "an account never seen holds nothing");
    ledger.deposit(alice, Amount.of(100_000));
    ledger.deposit(alice, Amount.of(5));
    ledger.withdraw(alice, Amount.of(70_000), 1, soon());
    assertEquals(Amount.of(30_005), ledger.balance(alice));
    ledger.refund(alice, Amount.of(1_234), program(1));
    assertEquals(Amount.of(31_239), ledger.balance(alice));
    assertEquals(Amount.ZERO, ledger.balance(bob), "other accounts are untouched");
    ledger.refund(bob, Amount.of(7), program(2));
    assertEquals(Amount.of(7), ledger.balance(bob), "a refund may create an account");
  }

  @Test
  void theLastProgramIsTheLastOneRefundedAndNothingElseChangesIt() throws Exception {
    Ledger ledger = fresh();
    assertNull(ledger.lastProgram(alice), "no program settled yet");
    ledger.deposit(alice, Amount.of(1_000));
    assertNull(ledger.lastProgram(alice), "a deposit settles no program");
    ledger.withdraw(alice, Amount.of(100), 1, soon());
    assertNull(ledger.lastProgram(alice), "a withdrawal settles no program");
    ledger.refund(alice, Amount.of(40), program(7));
    assertEquals(program(7), ledger.lastProgram(alice));
    ledger.refund(alice, Amount.ZERO, program(8));
    assertEquals(program(8), ledger.lastProgram(alice), "a program that spent its whole budget is settled too");
    ledger.deposit(alice, Amount.of(1));
    ledger.withdraw(alice, Amount.of(1), 2, soon());
    assertEquals(program(8), ledger.lastProgram(alice));
    assertNull(ledger.lastProgram(bob), "per account");
  }

  @Test
  void theMaximumBalanceRefusesDepositsButNeverRefunds() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(999_000));
    assertEquals(PricingException.Reason.BALANCE_LIMIT, reasonOf(() -> ledger.deposit(alice, Amount.of(1_001))));
    assertEquals(Amount.of(999_000), ledger.balance(alice), "a refused deposit changes nothing");
    ledger.deposit(alice, Amount.of(1_000));
    assertEquals(MAX_BALANCE, ledger.balance(alice));
    assertEquals(PricingException.Reason.BALANCE_LIMIT, reasonOf(() -> ledger.deposit(alice, Amount.MAX)));
    ledger.refund(alice, Amount.of(500), program(3));
    assertEquals(Amount.of(1_000_500), ledger.balance(alice), "a refund lifts the balance above the maximum");
    assertEquals(PricingException.Reason.BALANCE_LIMIT, reasonOf(() -> ledger.deposit(alice, Amount.of(1))));
  }

  @Test
  void withdrawalsAreRefusedWhenShortExpiredTooFarOrReplayed() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(100));
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE,
        reasonOf(() -> ledger.withdraw(alice, Amount.of(101), 1, soon())));
    assertEquals(PricingException.Reason.EXPIRED,
        reasonOf(() -> ledger.withdraw(alice, Amount.of(1), 2, clock.instant())));
    assertEquals(PricingException.Reason.EXPIRY_TOO_FAR,
        reasonOf(() -> ledger.withdraw(alice, Amount.of(1), 3, clock.instant().plus(WINDOW).plusSeconds(1))));
    assertEquals(Amount.of(100), ledger.balance(alice), "refusals take nothing");
    // A refused withdrawal does not use its nonce.
    ledger.withdraw(alice, Amount.of(10), 1, soon());
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> ledger.withdraw(alice, Amount.of(10), 1, soon())));
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> ledger.withdraw(alice, Amount.of(1), 1, soon().plusSeconds(1))));
    assertEquals(Amount.of(90), ledger.balance(alice));
    // Nonces are per account.
    ledger.deposit(bob, Amount.of(10));
    ledger.withdraw(bob, Amount.of(10), 1, soon());
    assertEquals(Amount.ZERO, ledger.balance(bob));
  }

  @Test
  void aNonceIsRememberedUntilItsWithdrawalExpiresThenForgotten() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(100));
    Instant expiry = clock.instant().plusSeconds(60);
    ledger.withdraw(alice, Amount.of(1), 9, expiry);
    clock.advance(Duration.ofSeconds(59));
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> ledger.withdraw(alice, Amount.of(1), 9, clock.instant().plusSeconds(60))));
    clock.advance(Duration.ofSeconds(1));
    // The first withdrawal has expired, so it could not be replayed anyway; its nonce is free again.
    assertEquals(PricingException.Reason.EXPIRED, reasonOf(() -> ledger.withdraw(alice, Amount.of(1), 9, expiry)));
    ledger.withdraw(alice, Amount.of(1), 9, clock.instant().plusSeconds(60));
    assertEquals(Amount.of(98), ledger.balance(alice));
  }

  @Test
  void balancesAndNoncesSurviveAReopen() throws Exception {
    Ledger ledger = fresh();
    ledger.deposit(alice, Amount.of(500));
    ledger.withdraw(alice, Amount.of(200), 77, soon());
    ledger.refund(alice, Amount.of(50), program(4));
    ledger.refund(bob, Amount.of(3), program(5));
    ledger.deposit(carol, Amount.of(9));
    Ledger again = reopen(ledger, clock, MAX_BALANCE, WINDOW);
    assertEquals(Amount.of(350), again.balance(alice));
    assertEquals(Amount.of(3), again.balance(bob));
    assertEquals(program(4), again.lastProgram(alice));
    assertEquals(program(5), again.lastProgram(bob));
    assertNull(again.lastProgram(carol), "an account with a balance but no program settled");
    assertEquals(PricingException.Reason.REPLAYED_NONCE,
        reasonOf(() -> again.withdraw(alice, Amount.of(1), 77, soon())));
    again.withdraw(alice, Amount.of(1), 78, soon());
    assertEquals(Amount.of(349), again.balance(alice));
  }

  @Test
  void concurrentWithdrawalsAndRefundsNeitherOverdrawNorLoseAUnit() throws Exception {
    Ledger ledger = fresh();
    long initial = 50_000;
    ledger.deposit(alice, Amount.of(initial));
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
          try {
            ledger.withdraw(alice, Amount.of(amount), nonce, soon());
          } catch (PricingException e) {
            assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE, e.reason());
            continue;
          }
          paid.incrementAndGet();
          // Every nonce is used twice: the replay must never pay.
          assertEquals(PricingException.Reason.REPLAYED_NONCE,
              reasonOf(() -> ledger.withdraw(alice, Amount.of(1), nonce, soon())));
          long spent = random.nextLong(amount + 1);
          kept.addAndGet(spent);
          ledger.refund(alice, Amount.of(amount - spent), program((int) nonce));
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
  }
}
