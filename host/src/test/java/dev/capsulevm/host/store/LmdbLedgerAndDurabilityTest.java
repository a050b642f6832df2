package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Env;

/** LMDB-only behaviour of the ledger, the atomic refund and the durability modes. */
class LmdbLedgerAndDurabilityTest {
  private static final PublicKey PAYER = ExecFixture.key(0x33).publicKey();
  private static final SigningKey HOST = ExecFixture.HOST;

  @TempDir Path dir;

  @Test
  void everyDurabilityModeKeepsCommitsAcrossAReopen() throws Exception {
    for (LmdbCapsuleStorage.Durability mode : LmdbCapsuleStorage.Durability.values()) {
      Path path = dir.resolve(mode.name());
      CapsuleFixture f = new CapsuleFixture("durable-" + mode);
      RecordWithBody r1 = f.record(List.of(f.id()), "one", 2);
      try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 16L << 20, 8, mode)) {
        assertEquals(mode, storage.durability());
        try (Batch batch = storage.newBatch()) {
          batch.createCapsule(f.metadata);
          batch.putRecord(r1);
          batch.credit(PAYER, Amount.of(42), ExecFixture.PROGRAM_ID);
          batch.commit();
        }
        storage.sync();
      }
      try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 8)) {
        assertEquals(r1.record(), storage.recordByHashOrNull(r1.hash()), mode.name());
        assertEquals(Amount.of(42), storage.ledger(Clock.systemUTC(), Amount.MAX, Duration.ofHours(1)).balance(PAYER));
      }
    }
  }

  @Test
  void usedNoncesArePrunedInTheSameTransactionAsALaterWithdrawal() throws Exception {
    Instant start = Instant.ofEpochSecond(1_800_000_000L);
    Instant[] now = {start};
    Clock clock = new Clock() {
      @Override
      public java.time.ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(java.time.ZoneId zone) {
        return this;
      }

      @Override
      public Instant instant() {
        return now[0];
      }
    };
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("nonces"), 16L << 20, 8)) {
      LmdbLedger ledger = storage.ledger(clock, Amount.of(1_000_000), Duration.ofMinutes(10));
      ledger.deposit(PAYER, Amount.of(1000));
      for (int i = 0; i < 100; i++) {
        ledger.withdraw(PAYER, Amount.of(1), i, start.plusSeconds(10 + i));
      }
      assertEquals(100, ledger.usedNonceCount());
      now[0] = start.plusSeconds(60);
      assertEquals(49, ledger.usedNonceCount(), "expiries up to now+60 have passed: nonces 0..50");
      now[0] = start.plusSeconds(120);
      assertEquals(0, ledger.usedNonceCount());
      assertEquals(0, storage.dump().get(LmdbLedger.DB_NONCE_EXPIRY).size(), "both indexes pruned");
      assertEquals(PricingException.Reason.EXPIRED, assertThrows(PricingException.class,
          () -> ledger.withdraw(PAYER, Amount.of(1), 0, start.plusSeconds(70))).reason());
      assertEquals(Amount.of(900), ledger.balance(PAYER));
    }
  }

  private static PendingCommit append(Executor executor, CapsuleFixture f, RecordWithBody record, AtomicLong refunded)
      throws Exception {
    ExecFixture.Builder append = new ExecFixture.Builder(f.id());
    append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(record)))));
    Meter meter = append.meter(Amount.ofCap(1000).units(), refunded);
    return (PendingCommit) executor.run(append.program(), append.data(), meter, PAYER, o -> { });
  }

  @Test
  void aCommitThatCannotGrowTheMapFailsCleanlyAndRefundsThroughTheRefunder() throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("full"), 1 << 20, 8 << 20, 8)) {
      Executor executor = new Executor(storage, Clock.systemUTC(), Duration.ofHours(1), Duration.ofSeconds(10), WireSizes.OUTPUT_ENVELOPE_BYTES, HOST,
          scheduler);
      CapsuleFixture f = new CapsuleFixture("map-full");
      try (Batch batch = storage.newBatch()) {
        batch.createCapsule(f.metadata);
        batch.commit();
      }
      List<byte[]> payloads = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        payloads.add(new byte[60_000]);
      }
      RecordWithBody big = f.record(List.of(f.id()), payloads);
      AtomicLong refunded = new AtomicLong();
      Object before;
      try (Snapshot held = storage.openSnapshot(f.id())) {
        before = storage.dump();
        PendingCommit pending = append(executor, f, big, refunded);
        ProgramStoppedException e = assertThrows(ProgramStoppedException.class, pending::confirm);
        assertEquals(ProgramStoppedException.Reason.STORAGE, e.reason());
        assertInstanceOf(Env.MapFullException.class, e.getCause());
        Receipt receipt = e.receiptOrNull().verify(HOST.publicKey());
        assertTrue(receipt.failed());
        assertEquals(receipt.refund().units(), refunded.get(), "the failed program's refund, through the refunder");
        assertEquals(before, storage.dump(), "nothing applied, no credit either");
        assertEquals(1 << 20, storage.mapSize(), "no growth while a snapshot is open");
        assertEquals(List.of(), held.heads());
      }
      // With the snapshot closed the same program commits: the map grows, records and refund land together.
      AtomicLong again = new AtomicLong();
      Receipt ok = append(executor, f, big, again).confirm().verify(HOST.publicKey());
      assertEquals(0, again.get());
      assertTrue(storage.mapSize() > 1 << 20);
      assertEquals(ok.refund(), storage.ledger(Clock.systemUTC(), Amount.MAX, Duration.ofHours(1)).balance(PAYER));
      assertEquals(big.record(), storage.recordByHashOrNull(big.hash()));
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void theLedgerSharesTheEnvironmentAndItsCreditsSurviveAReopen() throws Exception {
    Path path = dir.resolve("shared");
    CapsuleFixture f = new CapsuleFixture("shared-env");
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 8)) {
      LmdbLedger ledger = storage.ledger(Clock.systemUTC(), Amount.of(1000), Duration.ofHours(1));
      ledger.deposit(PAYER, Amount.of(1000));
      try (Batch batch = storage.newBatch()) {
        batch.createCapsule(f.metadata);
        batch.credit(PAYER, Amount.of(7), ExecFixture.PROGRAM_ID);
        batch.commit();
      }
      assertEquals(Amount.of(1007), ledger.balance(PAYER), "a credit may lift a balance above the maximum");
      assertEquals(List.of(LmdbLedger.DB_ACCOUNTS, Layout.DB_BODIES, Layout.DB_DIGESTS, Layout.DB_DROPPED, Layout.DB_HEADS,
          Layout.DB_HEIGHTS, Layout.DB_MEMBER_RECORDS, Layout.DB_METADATA, LmdbLedger.DB_NONCE_EXPIRY, LmdbLedger.DB_NONCES,
          Layout.DB_PAYMENTS, Layout.DB_RECORD_CAPSULE, Layout.DB_RECORDS, Layout.DB_TREES),
          new ArrayList<>(storage.dump().keySet()), "one environment, one named database each");
    }
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 8)) {
      assertEquals(Amount.of(1007), storage.ledger(Clock.systemUTC(), Amount.MAX, Duration.ofHours(1)).balance(PAYER));
      assertTrue(storage.hasCapsule(f.id()));
      assertNull(storage.recordByHashOrNull(f.id()));
    }
  }
}
