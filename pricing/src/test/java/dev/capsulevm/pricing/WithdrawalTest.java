package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class WithdrawalTest {
  private static final Duration WINDOW = Duration.ofMinutes(10);
  private final PriceTable table = Fixtures.exampleTable();
  private final Hash tableId = table.id();
  private final PublicKey host = Fixtures.HOST.publicKey();
  private final PublicKey account = Fixtures.RENTER.publicKey();
  private final SettableClock clock = new SettableClock(Fixtures.VALID_FROM.plusSeconds(60));
  private InMemoryLedger ledger;
  private Reservations holds;
  private Cashier cashier;

  @BeforeEach
  void fund() throws Exception {
    ledger = new InMemoryLedger(clock, table.limits().maxBalance());
    holds = new Reservations(ledger, clock, WINDOW, Amount.MAX);
    cashier = new Cashier(holds, host, clock);
    ledger.deposit(account, Amount.of(100_000));
  }

  /** Accepts {@code w} and settles its program at once for {@code cost}. */
  private void pay(SignedWithdrawal w, long cost) throws Exception {
    Reservation r = cashier.accept(w, tableId);
    cashier.refunderFor(r).refund(r.amount().minus(Amount.of(cost)), Fixtures.programId("p" + r.nonce()));
    if (!r.isCommitted()) {
      throw new AssertionError("not settled", r.failureOrNull());
    }
  }

  private SignedWithdrawal withdrawal(long amount, long nonce, Instant expiry) {
    return new Withdrawal(account, Amount.of(amount), nonce, expiry, tableId, host).sign(Fixtures.RENTER);
  }

  private Instant soon() {
    return clock.instant().plusSeconds(300);
  }

  private static PricingException.Reason reasonOf(ThrowingRunnable r) {
    return assertThrows(PricingException.class, r::run).reason();
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  @Test
  void roundTripsAndPays() throws Exception {
    SignedWithdrawal w = withdrawal(70_000, 1, soon());
    byte[] bytes = w.encode();
    assertEquals(185, bytes.length);
    assertEquals(w, SignedWithdrawal.parse(bytes));
    assertArrayEquals(bytes, SignedWithdrawal.parse(bytes).encode());
    Reservation held = cashier.accept(w, tableId);
    assertEquals(Amount.of(70_000), held.amount());
    assertEquals(Amount.of(30_000), holds.spendable(account));
    assertEquals(Amount.of(100_000), ledger.balance(account), "held, not taken");
  }

  @Test
  void expiredForeignAndMisdirectedWithdrawalsAreRefused() {
    assertEquals(PricingException.Reason.EXPIRED,
        reasonOf(() -> cashier.accept(withdrawal(1, 1, clock.instant()), tableId)));
    assertEquals(PricingException.Reason.EXPIRY_TOO_FAR,
        reasonOf(() -> cashier.accept(withdrawal(1, 2, clock.instant().plus(WINDOW).plusSeconds(1)), tableId)));
    SignedWithdrawal otherHost = new Withdrawal(account, Amount.of(1), 3, soon(), tableId,
        Fixtures.OTHER.publicKey()).sign(Fixtures.RENTER);
    assertEquals(PricingException.Reason.WRONG_HOST, reasonOf(() -> cashier.accept(otherHost, tableId)));
    assertEquals(PricingException.Reason.WRONG_PRICE_TABLE,
        reasonOf(() -> cashier.accept(withdrawal(1, 4, soon()), Fixtures.programId("another table"))));
    // signed by someone who does not hold the account
    Withdrawal w = new Withdrawal(account, Amount.of(1), 5, soon(), tableId, host);
    SignedWithdrawal foreign = new SignedWithdrawal(w,
        new Withdrawal(Fixtures.OTHER.publicKey(), Amount.of(1), 5, soon(), tableId, host)
            .sign(Fixtures.OTHER).signature());
    assertEquals(PricingException.Reason.BAD_SIGNATURE, reasonOf(() -> cashier.accept(foreign, tableId)));
    assertThrows(IllegalArgumentException.class, () -> w.sign(Fixtures.OTHER));
    assertEquals(Amount.of(100_000), ledger.balance(account));
  }

  @Test
  void insufficientBalanceAndBalanceLimit() throws Exception {
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE,
        reasonOf(() -> cashier.accept(withdrawal(100_001, 1, soon()), tableId)));
    long max = table.limits().maxBalance().units();
    assertEquals(PricingException.Reason.BALANCE_LIMIT,
        reasonOf(() -> ledger.deposit(account, Amount.of(max - 100_000 + 1))));
    ledger.deposit(account, Amount.of(max - 100_000));
    assertEquals(table.limits().maxBalance(), ledger.balance(account));
    assertEquals(PricingException.Reason.BALANCE_LIMIT, reasonOf(() -> ledger.deposit(account, Amount.MAX)));
  }

  @Test
  void replayIsRefusedAlsoAfterARestart() throws Exception {
    SignedWithdrawal w = withdrawal(10, 42, soon());
    pay(w, 10);
    assertEquals(PricingException.Reason.REPLAYED_NONCE, reasonOf(() -> cashier.accept(w, tableId)));
    byte[] snapshot = ledger.snapshot();
    InMemoryLedger restarted = InMemoryLedger.restore(snapshot, clock, table.limits().maxBalance());
    assertArrayEquals(snapshot, restarted.snapshot());
    assertEquals(ledger.balance(account), restarted.balance(account));
    Cashier afterRestart = new Cashier(new Reservations(restarted, clock, WINDOW, Amount.MAX), host, clock);
    assertEquals(PricingException.Reason.REPLAYED_NONCE, reasonOf(() -> afterRestart.accept(w, tableId)));
    Reservation r = afterRestart.accept(withdrawal(10, 43, soon()), tableId);
    afterRestart.refunderFor(r).refund(Amount.ZERO, Fixtures.programId("p43"));
    assertEquals(Amount.of(100_000 - 20), restarted.balance(account));
  }

  @Test
  void noncesArePrunedOnceTheirWithdrawalsExpire() throws Exception {
    for (int i = 0; i < 100; i++) {
      pay(withdrawal(1, i, clock.instant().plusSeconds(10 + i)), 1);
    }
    assertEquals(100, ledger.usedNonceCount());
    clock.advance(Duration.ofSeconds(60));
    assertEquals(49, ledger.usedNonceCount()); // expiries now+10 .. now+60 have passed: nonces 0..50
    clock.advance(Duration.ofSeconds(60));
    assertEquals(0, ledger.usedNonceCount());
    // an old withdrawal whose nonce was dropped is still refused, now because it expired
    SignedWithdrawal old = withdrawal(1, 0, Fixtures.VALID_FROM.plusSeconds(70));
    assertEquals(PricingException.Reason.EXPIRED, reasonOf(() -> cashier.accept(old, tableId)));
  }

  @Test
  void flippingAnyByteFailsVerification() {
    byte[] good = withdrawal(10, 7, soon()).encode();
    Tamper.everyByteBreaks(good, bytes -> SignedWithdrawal.parse(bytes).verify(host, tableId, clock));
  }

  @Test
  void badLengthsAndSnapshotsAreMalformed() {
    byte[] good = withdrawal(10, 7, soon()).encode();
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING, assertThrows(VerificationException.class,
        () -> SignedWithdrawal.parse(Arrays.copyOf(good, good.length + 1))).failure());
    byte[] snapshot = ledger.snapshot();
    assertThrows(VerificationException.class, () -> InMemoryLedger.restore(
        Arrays.copyOf(snapshot, snapshot.length + 1), clock, Amount.MAX));
    assertThrows(VerificationException.class, () -> InMemoryLedger.restore(
        Arrays.copyOf(snapshot, snapshot.length - 1), clock, Amount.MAX));
  }
}
