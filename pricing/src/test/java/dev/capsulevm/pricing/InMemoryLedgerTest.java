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
   * docs/FORMAT.md, "Ledger snapshot": version 4 puts each account's last program beside its balance and
   * each settlement's program, cost, kind and program count beside its nonce; a version 3 snapshot is read
   * with withdrawals of one program, a version 2 snapshot with nonces that name no program.
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
    ledger.settle(Settlement.sessionProgram(first, 78, START.plusSeconds(90), program(10), Amount.of(1)));
    ledger.settle(Settlement.sessionProgram(first, 78, START.plusSeconds(90), program(11), Amount.of(2)));
    ledger.credit(second, Amount.of(3));
    ByteBuffer expected = ByteBuffer.allocate(1 + 4 + 2 * (32 + 8 + 32) + 4 + 2 * 93);
    expected.put((byte) 4).putInt(2);
    expected.put(first.toByteArray()).putLong(3).put(program(11).toByteArray());
    expected.put(second.toByteArray()).putLong(3).put(new byte[32]);
    expected.putInt(2);
    expected.put(first.toByteArray()).putLong(77).putLong(START.getEpochSecond() + 60)
        .put(program(9).toByteArray()).putLong(4).put((byte) 0).putInt(1);
    expected.put(first.toByteArray()).putLong(78).putLong(START.getEpochSecond() + 90)
        .put(program(11).toByteArray()).putLong(3).put((byte) 1).putInt(2);
    byte[] snapshot = ledger.snapshot();
    assertArrayEquals(expected.array(), snapshot);
    InMemoryLedger restored = InMemoryLedger.restore(snapshot, clock, MAX_BALANCE);
    assertArrayEquals(snapshot, restored.snapshot(), "a version 4 snapshot round-trips");
    assertEquals(ledger.settlements(first), restored.settlements(first));

    ByteBuffer v3 = ByteBuffer.allocate(1 + 4 + 32 + 8 + 32 + 4 + 88);
    v3.put((byte) 3).putInt(1).put(first.toByteArray()).putLong(6).put(program(9).toByteArray());
    v3.putInt(1).put(first.toByteArray()).putLong(77).putLong(START.getEpochSecond() + 60)
        .put(program(9).toByteArray()).putLong(4);
    InMemoryLedger fromV3 = InMemoryLedger.restore(v3.array(), clock, MAX_BALANCE);
    assertEquals(java.util.List.of(new Settlement(first, 77, START.plusSeconds(60), program(9), Amount.of(4))),
        fromV3.settlements(first), "a version 3 nonce is a withdrawal's settlement of one program");
    assertEquals(PricingException.Reason.REPLAYED_NONCE, assertThrows(PricingException.class,
        () -> fromV3.settle(Settlement.sessionProgram(first, 77, START.plusSeconds(60), program(1), Amount.ZERO)))
        .reason(), "which no session may reuse");

    ByteBuffer v2 = ByteBuffer.allocate(1 + 4 + 32 + 8 + 32 + 4 + 48);
    v2.put((byte) 2).putInt(1).put(first.toByteArray()).putLong(6).put(program(9).toByteArray());
    v2.putInt(1).put(first.toByteArray()).putLong(77).putLong(START.getEpochSecond() + 60);
    InMemoryLedger older = InMemoryLedger.restore(v2.array(), clock, MAX_BALANCE);
    assertEquals(Amount.of(6), older.balance(first));
    assertTrue(older.nonceUsed(first, 77), "a version 2 nonce is used");
    assertEquals(java.util.List.of(), older.settlements(first), "but names no settlement");

    for (int[] kindAndPrograms : new int[][] {{2, 1}, {0, 2}, {1, 0}}) {
      byte[] bad = snapshot.clone();
      int lastRow = bad.length - 93;
      bad[lastRow + 88] = (byte) kindAndPrograms[0];
      ByteBuffer.wrap(bad).putInt(lastRow + 89, kindAndPrograms[1]);
      assertEquals(VerificationException.Failure.MALFORMED_ENCODING, assertThrows(VerificationException.class,
          () -> InMemoryLedger.restore(bad, clock, MAX_BALANCE)).failure(),
          "kind " + kindAndPrograms[0] + " with " + kindAndPrograms[1] + " programs");
    }
    snapshot[0] = 1; // a version 1 snapshot (no last programs) is refused
    VerificationException e = assertThrows(VerificationException.class,
        () -> InMemoryLedger.restore(snapshot, clock, MAX_BALANCE));
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING, e.failure());
    snapshot[0] = 5;
    assertThrows(VerificationException.class, () -> InMemoryLedger.restore(snapshot, clock, MAX_BALANCE));
  }

  /** A store's batch settles its programs all or none; a session's programs in one batch add up. */
  @Test
  void aBatchAccumulatesASessionsProgramsOrSettlesNothing() throws Exception {
    Clock clock = Clock.fixed(START, java.time.ZoneOffset.UTC);
    InMemoryLedger ledger = new InMemoryLedger(clock, MAX_BALANCE);
    PublicKey a = account(0x61);
    ledger.deposit(a, Amount.of(100));
    java.time.Instant expiry = START.plusSeconds(60);
    ledger.settleAll(java.util.List.of(Settlement.sessionProgram(a, 1, expiry, program(1), Amount.of(10)),
        Settlement.sessionProgram(a, 1, expiry, program(2), Amount.of(20))));
    assertEquals(java.util.List.of(new Settlement(a, 1, expiry, program(2), Amount.of(30), Settlement.Kind.SESSION, 2)),
        ledger.settlements(a));
    byte[] before = ledger.snapshot();
    assertEquals(PricingException.Reason.REPLAYED_NONCE, assertThrows(PricingException.class,
        () -> ledger.settleAll(java.util.List.of(Settlement.sessionProgram(a, 2, expiry, program(3), Amount.of(1)),
            new Settlement(a, 2, expiry, program(4), Amount.of(1))))).reason());
    assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE, assertThrows(PricingException.class,
        () -> ledger.settleAll(java.util.List.of(Settlement.sessionProgram(a, 1, expiry, program(3), Amount.of(60)),
            Settlement.sessionProgram(a, 1, expiry, program(4), Amount.of(11))))).reason());
    assertArrayEquals(before, ledger.snapshot(), "a refused batch changes nothing");
  }
}
