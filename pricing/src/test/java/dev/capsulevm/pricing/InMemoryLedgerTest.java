package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The ledger contract over {@link InMemoryLedger}; a reopen is a snapshot and restore. */
class InMemoryLedgerTest extends LedgerContract {
  @Override
  protected Ledger newLedger(Clock clock, Amount maxBalance, Duration maxExpiryAhead) {
    return new InMemoryLedger(clock, maxBalance, maxExpiryAhead);
  }

  @Override
  protected Ledger reopen(Ledger ledger, Clock clock, Amount maxBalance, Duration maxExpiryAhead) throws Exception {
    return InMemoryLedger.restore(((InMemoryLedger) ledger).snapshot(), clock, maxBalance, maxExpiryAhead);
  }

  /** docs/FORMAT.md, "Ledger snapshot": version 2 puts each account's last program beside its balance. */
  @Test
  void theSnapshotIsTheDocumentedLayout() throws Exception {
    Clock clock = Clock.fixed(START, java.time.ZoneOffset.UTC);
    InMemoryLedger ledger = new InMemoryLedger(clock, MAX_BALANCE, WINDOW);
    PublicKey a = account(0x61);
    PublicKey b = account(0x62);
    PublicKey first = a.compareTo(b) < 0 ? a : b;
    PublicKey second = first == a ? b : a;
    ledger.deposit(first, Amount.of(10));
    ledger.withdraw(first, Amount.of(4), 77, START.plusSeconds(60));
    ledger.refund(second, Amount.of(3), program(9));
    ByteBuffer expected = ByteBuffer.allocate(1 + 4 + 2 * (32 + 8 + 32) + 4 + 48);
    expected.put((byte) 2).putInt(2);
    expected.put(first.toByteArray()).putLong(6).put(new byte[32]);
    expected.put(second.toByteArray()).putLong(3).put(program(9).toByteArray());
    expected.putInt(1).put(first.toByteArray()).putLong(77).putLong(START.getEpochSecond() + 60);
    byte[] snapshot = ledger.snapshot();
    assertArrayEquals(expected.array(), snapshot);

    snapshot[0] = 1; // a version 1 snapshot (no last programs) is not read as version 2
    VerificationException e = assertThrows(VerificationException.class,
        () -> InMemoryLedger.restore(snapshot, clock, MAX_BALANCE, WINDOW));
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING, e.failure());
  }
}
