package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.nio.ByteBuffer;
import java.time.Clock;
import org.junit.jupiter.api.Test;

/** The ledger contract over {@link InMemoryLedger}; a reopen is a snapshot and restore. */
class InMemoryLedgerTest extends LedgerContract {
  @Override
  protected Ledger newLedger(Clock clock, Amount maxBalance) {
    return new InMemoryLedger(clock, maxBalance);
  }

  @Override
  protected Ledger reopen(Ledger ledger, Clock clock, Amount maxBalance) throws Exception {
    return InMemoryLedger.restore(((InMemoryLedger) ledger).snapshot(), clock, maxBalance);
  }

  /**
   * docs/FORMAT.md, "Ledger snapshot": version 3 puts each account's last program beside its balance and
   * each settlement's program and cost beside its nonce; a version 2 snapshot is read with nonces that
   * name no program.
   */
  @Test
  void theSnapshotIsTheDocumentedLayout() throws Exception {
    Clock clock = Clock.fixed(START, java.time.ZoneOffset.UTC);
    InMemoryLedger ledger = new InMemoryLedger(clock, MAX_BALANCE);
    PublicKey a = account(0x61);
    PublicKey b = account(0x62);
    PublicKey first = a.compareTo(b) < 0 ? a : b;
    PublicKey second = first == a ? b : a;
    ledger.deposit(first, Amount.of(10));
    ledger.settle(new Settlement(first, 77, START.plusSeconds(60), program(9), Amount.of(4)));
    ledger.credit(second, Amount.of(3));
    ByteBuffer expected = ByteBuffer.allocate(1 + 4 + 2 * (32 + 8 + 32) + 4 + 88);
    expected.put((byte) 3).putInt(2);
    expected.put(first.toByteArray()).putLong(6).put(program(9).toByteArray());
    expected.put(second.toByteArray()).putLong(3).put(new byte[32]);
    expected.putInt(1).put(first.toByteArray()).putLong(77).putLong(START.getEpochSecond() + 60)
        .put(program(9).toByteArray()).putLong(4);
    byte[] snapshot = ledger.snapshot();
    assertArrayEquals(expected.array(), snapshot);

    ByteBuffer v2 = ByteBuffer.allocate(1 + 4 + 32 + 8 + 32 + 4 + 48);
    v2.put((byte) 2).putInt(1).put(first.toByteArray()).putLong(6).put(program(9).toByteArray());
    v2.putInt(1).put(first.toByteArray()).putLong(77).putLong(START.getEpochSecond() + 60);
    InMemoryLedger older = InMemoryLedger.restore(v2.array(), clock, MAX_BALANCE);
    assertEquals(Amount.of(6), older.balance(first));
    assertTrue(older.nonceUsed(first, 77), "a version 2 nonce is used");
    assertEquals(java.util.List.of(), older.settlements(first), "but names no settlement");

    snapshot[0] = 1; // a version 1 snapshot (no last programs) is refused
    VerificationException e = assertThrows(VerificationException.class,
        () -> InMemoryLedger.restore(snapshot, clock, MAX_BALANCE));
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING, e.failure());
  }
}
