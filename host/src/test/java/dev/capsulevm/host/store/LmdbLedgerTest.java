package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.LedgerContract;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
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
  protected Ledger newLedger(Clock clock, Amount maxBalance) throws Exception {
    return openStore().ledger(clock, maxBalance);
  }

  @Override
  protected Ledger reopen(Ledger ledger, Clock clock, Amount maxBalance) throws Exception {
    opened.forEach(LmdbCapsuleStorage::close);
    opened.clear();
    return openStore().ledger(clock, maxBalance);
  }

  @AfterEach
  void close() {
    opened.forEach(LmdbCapsuleStorage::close);
  }

  @Test
  void anAccountAndANonceKeptByAnOlderHostReadAsNoLastProgramAndNoSettlement() throws Exception {
    PublicKey old = account(0x61);
    openStore();
    opened.forEach(LmdbCapsuleStorage::close);
    opened.clear();
    // An older host kept the balance alone: 8 bytes.
    try (Env<ByteBuffer> env = Env.create().setMapSize(16L << 20).setMaxDbs(32).open(dir.resolve("ledger").toFile())) {
      Dbi<ByteBuffer> accounts = env.openDbi(LmdbLedger.DB_ACCOUNTS);
      Dbi<ByteBuffer> nonces = env.openDbi(LmdbLedger.DB_NONCES);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        accounts.put(txn, direct(old.toByteArray()), direct(ByteBuffer.allocate(8).putLong(700).array()));
        // and used nonce 5 at its withdrawal, keeping the expiry alone: 8 bytes.
        nonces.put(txn, direct(ByteBuffer.allocate(40).put(old.toByteArray()).putLong(5)
            .array()), direct(ByteBuffer.allocate(8).putLong(Instant.now().plusSeconds(600).getEpochSecond()).array()));
        txn.commit();
      }
    }
    LmdbCapsuleStorage store = openStore();
    Ledger ledger = store.ledger(Clock.systemUTC(), Amount.of(1_000_000));
    assertEquals(Amount.of(700), ledger.balance(old));
    assertNull(ledger.lastProgram(old), "an 8-byte value names no program");
    assertTrue(ledger.nonceUsed(old, 5), "an 8-byte nonce is used");
    assertEquals(List.of(), ledger.settlements(old), "but names no settlement");
    assertEquals(PricingException.Reason.REPLAYED_NONCE, assertThrows(PricingException.class,
        () -> ledger.settle(new Settlement(old, 5, Instant.now().plusSeconds(60).truncatedTo(ChronoUnit.SECONDS),
            program(6), Amount.of(1)))).reason());
    assertEquals(PricingException.Reason.REPLAYED_NONCE, assertThrows(PricingException.class,
        () -> ledger.settle(Settlement.sessionProgram(old, 5, Instant.now().plusSeconds(60)
            .truncatedTo(ChronoUnit.SECONDS), program(6), Amount.of(1)))).reason(), "nor by a session");

    ledger.deposit(old, Amount.of(300));
    assertEquals(Amount.of(1000), ledger.balance(old));
    assertNull(ledger.lastProgram(old), "a deposit settles no program");
    assertEquals("00000000000003e8", store.dump().get(LmdbLedger.DB_ACCOUNTS).get(old.toHex()),
        "without a program the value stays a balance alone");

    Instant expiry = Instant.now().plusSeconds(60).truncatedTo(ChronoUnit.SECONDS);
    ledger.settle(new Settlement(old, 6, expiry, program(7), Amount.of(5)));
    assertEquals(Amount.of(995), ledger.balance(old));
    assertEquals(program(7), ledger.lastProgram(old));
    assertEquals("00000000000003e3" + HexFormat.of().formatHex(program(7).toByteArray()),
        store.dump().get(LmdbLedger.DB_ACCOUNTS).get(old.toHex()), "the balance, then the last program");
    assertEquals(HexFormat.of().formatHex(ByteBuffer.allocate(48).putLong(expiry.getEpochSecond())
        .put(program(7).toByteArray()).putLong(5).array()),
        store.dump().get(LmdbLedger.DB_NONCES).get(old.toHex() + "0000000000000006"),
        "a settled nonce keeps its expiry, program and cost");
  }

  /**
   * host/README.md, "nonces": a withdrawal's row stays the 48 bytes a host before sessions wrote (and such
   * a row is a withdrawal's, which no session may reuse); a session's row is 53 bytes, its expiry, last
   * program and total cost, then kind 1 and its program count.
   */
  @Test
  void aSessionsRowIsTheDocumentedLayoutAndAWithdrawalsStaysAsAnOlderHostWroteIt() throws Exception {
    PublicKey payer = account(0x63);
    Instant expiry = Instant.now().plusSeconds(600).truncatedTo(ChronoUnit.SECONDS);
    openStore();
    opened.forEach(LmdbCapsuleStorage::close);
    opened.clear();
    // A host before sessions settled nonce 5 as a withdrawal: 48 bytes.
    try (Env<ByteBuffer> env = Env.create().setMapSize(16L << 20).setMaxDbs(32).open(dir.resolve("ledger").toFile())) {
      Dbi<ByteBuffer> accounts = env.openDbi(LmdbLedger.DB_ACCOUNTS);
      Dbi<ByteBuffer> nonces = env.openDbi(LmdbLedger.DB_NONCES);
      Dbi<ByteBuffer> expiries = env.openDbi(LmdbLedger.DB_NONCE_EXPIRY);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        accounts.put(txn, direct(payer.toByteArray()), direct(ByteBuffer.allocate(40).putLong(990)
            .put(program(1).toByteArray()).array()));
        nonces.put(txn, direct(ByteBuffer.allocate(40).put(payer.toByteArray()).putLong(5).array()),
            direct(ByteBuffer.allocate(48).putLong(expiry.getEpochSecond()).put(program(1).toByteArray())
                .putLong(10).array()));
        expiries.put(txn, direct(ByteBuffer.allocate(48).putLong(expiry.getEpochSecond())
            .put(payer.toByteArray()).putLong(5).array()), direct(new byte[0]));
        txn.commit();
      }
    }
    LmdbCapsuleStorage store = openStore();
    Ledger ledger = store.ledger(Clock.systemUTC(), Amount.of(1_000_000));
    assertEquals(List.of(new Settlement(payer, 5, expiry, program(1), Amount.of(10))), ledger.settlements(payer),
        "a 48-byte row is a withdrawal's settlement of one program");
    assertEquals(PricingException.Reason.REPLAYED_NONCE, assertThrows(PricingException.class,
        () -> ledger.settle(Settlement.sessionProgram(payer, 5, expiry, program(2), Amount.of(1)))).reason());

    // Two programs of session 6 in one batch of the store, then a third alone: one row.
    try (Batch batch = store.newBatch()) {
      batch.settle(Settlement.sessionProgram(payer, 6, expiry, program(2), Amount.of(100)));
      batch.settle(Settlement.sessionProgram(payer, 6, expiry, program(3), Amount.of(20)));
      batch.commit();
    }
    ledger.settle(Settlement.sessionProgram(payer, 6, expiry, program(4), Amount.of(3)));
    ledger.settle(new Settlement(payer, 7, expiry, program(5), Amount.of(1)));
    assertEquals(List.of(new Settlement(payer, 5, expiry, program(1), Amount.of(10)),
        new Settlement(payer, 6, expiry, program(4), Amount.of(123), Settlement.Kind.SESSION, 3),
        new Settlement(payer, 7, expiry, program(5), Amount.of(1))), ledger.settlements(payer));
    assertEquals(Amount.of(866), ledger.balance(payer));
    assertEquals(program(5), ledger.lastProgram(payer));
    HexFormat hex = HexFormat.of();
    assertEquals(hex.formatHex(ByteBuffer.allocate(53).putLong(expiry.getEpochSecond()).put(program(4).toByteArray())
        .putLong(123).put((byte) 1).putInt(3).array()),
        store.dump().get(LmdbLedger.DB_NONCES).get(payer.toHex() + "0000000000000006"), "a session's row");
    assertEquals(hex.formatHex(ByteBuffer.allocate(48).putLong(expiry.getEpochSecond()).put(program(5).toByteArray())
        .putLong(1).array()),
        store.dump().get(LmdbLedger.DB_NONCES).get(payer.toHex() + "0000000000000007"), "a withdrawal's row");
    assertEquals(3, store.dump().get(LmdbLedger.DB_NONCE_EXPIRY).size(), "one expiry entry per row");
    assertEquals(3, ((LmdbLedger) ledger).usedNonceCount());

    // A batch whose second program is refused settles neither.
    try (Batch batch = store.newBatch()) {
      batch.settle(Settlement.sessionProgram(payer, 6, expiry, program(8), Amount.of(1)));
      batch.settle(new Settlement(payer, 6, expiry, program(9), Amount.of(1)));
      assertEquals(StorageException.Reason.SETTLEMENT_REFUSED, assertThrows(StorageException.class, batch::commit)
          .reason());
    }
    assertEquals(Amount.of(866), ledger.balance(payer));
    assertEquals(new Settlement(payer, 6, expiry, program(4), Amount.of(123), Settlement.Kind.SESSION, 3),
        ledger.settlements(payer).get(1));
  }

  private static ByteBuffer direct(byte[] bytes) {
    ByteBuffer out = ByteBuffer.allocateDirect(bytes.length);
    out.put(bytes).flip();
    return out;
  }
}
