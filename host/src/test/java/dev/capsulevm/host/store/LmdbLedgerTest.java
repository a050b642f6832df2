package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.LedgerContract;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/** pricing's ledger contract over {@link LmdbLedger}; a reopen closes the environment and opens it again. */
class LmdbLedgerTest extends LedgerContract {
  @TempDir Path dir;
  private final List<LmdbCapsuleStorage> opened = new ArrayList<>();

  private LmdbCapsuleStorage openStore() throws Exception {
    LmdbCapsuleStorage store = LmdbCapsuleStorage.open(dir.resolve("ledger"), 16L << 20, 16);
    opened.add(store);
    return store;
  }

  @Override
  protected Ledger newLedger(Clock clock, Amount maxBalance, Duration maxExpiryAhead) throws Exception {
    return openStore().ledger(clock, maxBalance, maxExpiryAhead);
  }

  @Override
  protected Ledger reopen(Ledger ledger, Clock clock, Amount maxBalance, Duration maxExpiryAhead) throws Exception {
    opened.forEach(LmdbCapsuleStorage::close);
    opened.clear();
    return openStore().ledger(clock, maxBalance, maxExpiryAhead);
  }

  @AfterEach
  void close() {
    opened.forEach(LmdbCapsuleStorage::close);
  }

  @Test
  void aBalanceKeptByAnOlderHostReadsAsNoLastProgramAndGainsOneWithTheNextRefund() throws Exception {
    PublicKey old = account(0x61);
    openStore();
    opened.forEach(LmdbCapsuleStorage::close);
    opened.clear();
    // An older host kept the balance alone: 8 bytes.
    try (Env<ByteBuffer> env = Env.create().setMapSize(16L << 20).setMaxDbs(32).open(dir.resolve("ledger").toFile())) {
      Dbi<ByteBuffer> accounts = env.openDbi(LmdbLedger.DB_ACCOUNTS);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        accounts.put(txn, direct(old.toByteArray()), direct(ByteBuffer.allocate(8).putLong(700).array()));
        txn.commit();
      }
    }
    LmdbCapsuleStorage store = openStore();
    Ledger ledger = store.ledger(Clock.systemUTC(), Amount.of(1_000_000), Duration.ofMinutes(10));
    assertEquals(Amount.of(700), ledger.balance(old));
    assertNull(ledger.lastProgram(old), "an 8-byte value names no program");

    ledger.deposit(old, Amount.of(300));
    assertEquals(Amount.of(1000), ledger.balance(old));
    assertNull(ledger.lastProgram(old), "a deposit settles no program");
    assertEquals("00000000000003e8", store.dump().get(LmdbLedger.DB_ACCOUNTS).get(old.toHex()),
        "without a program the value stays a balance alone");

    ledger.refund(old, Amount.of(5), program(7));
    assertEquals(Amount.of(1005), ledger.balance(old));
    assertEquals(program(7), ledger.lastProgram(old));
    assertEquals("00000000000003ed" + HexFormat.of().formatHex(program(7).toByteArray()),
        store.dump().get(LmdbLedger.DB_ACCOUNTS).get(old.toHex()), "the balance, then the last program");
  }

  private static ByteBuffer direct(byte[] bytes) {
    ByteBuffer out = ByteBuffer.allocateDirect(bytes.length);
    out.put(bytes).flip();
    return out;
  }
}
