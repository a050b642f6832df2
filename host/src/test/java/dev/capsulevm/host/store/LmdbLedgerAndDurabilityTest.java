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
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.pricing.Settlement;
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
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Env;

/** LMDB-only behaviour of the ledger, the settlement committed with the writes and the durability modes. */
class LmdbLedgerAndDurabilityTest {
  private static final PublicKey PAYER = ExecFixture.key(0x33).publicKey();
  private static final SigningKey HOST = ExecFixture.HOST;
  /** An expiry ahead of the real clock the stores here prune by. */
  private static final Instant EXPIRY = Instant.now().plusSeconds(3600).truncatedTo(ChronoUnit.SECONDS);

  @TempDir Path dir;

  @Test
  void everyDurabilityModeKeepsCommitsAcrossAReopen() throws Exception {
    for (LmdbCapsuleStorage.Durability mode : LmdbCapsuleStorage.Durability.values()) {
      Path path = dir.resolve(mode.name());
      CapsuleFixture f = new CapsuleFixture("durable-" + mode);
      RecordWithBody r1 = f.record(List.of(f.id()), "one", 2);
      try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 16L << 20, 8, mode)) {
        assertEquals(mode, storage.durability());
        storage.ledger(Clock.systemUTC(), Amount.MAX).deposit(PAYER, Amount.of(100));
        try (Batch batch = storage.newBatch()) {
          batch.createCapsule(f.metadata);
          batch.putRecord(r1);
          batch.settle(new Settlement(PAYER, 1, EXPIRY, ExecFixture.PROGRAM_ID, Amount.of(42)));
          batch.commit();
        }
        storage.sync();
      }
      try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 8)) {
        assertEquals(r1.record(), storage.recordByHashOrNull(r1.hash()), mode.name());
        LmdbLedger ledger = storage.ledger(Clock.systemUTC(), Amount.MAX);
        assertEquals(Amount.of(58), ledger.balance(PAYER));
        assertEquals(List.of(new Settlement(PAYER, 1, EXPIRY, ExecFixture.PROGRAM_ID, Amount.of(42))),
            ledger.settlements(PAYER));
      }
    }
  }

  @Test
  void usedNoncesArePrunedInTheSameTransactionAsALaterSettlement() throws Exception {
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
      LmdbLedger ledger = storage.ledger(clock, Amount.of(1_000_000));
      ledger.deposit(PAYER, Amount.of(1000));
      for (int i = 0; i < 100; i++) {
        ledger.settle(new Settlement(PAYER, i, start.plusSeconds(10 + i), ExecFixture.PROGRAM_ID, Amount.of(1)));
      }
      assertEquals(100, ledger.usedNonceCount());
      now[0] = start.plusSeconds(60);
      assertEquals(49, ledger.usedNonceCount(), "expiries up to now+60 have passed: nonces 0..50");
      now[0] = start.plusSeconds(120);
      assertEquals(0, ledger.usedNonceCount());
      assertEquals(0, storage.dump().get(LmdbLedger.DB_NONCE_EXPIRY).size(), "both indexes pruned");
      // A withdrawal that expired is refused before it is held (Reservations), so its nonce may go.
      assertEquals(PricingException.Reason.EXPIRED, assertThrows(PricingException.class,
          () -> ExecFixture.holds(ledger, clock).reserve(PAYER, Amount.of(1), 0, start.plusSeconds(70))).reason());
      assertEquals(Amount.of(900), ledger.balance(PAYER));
      ledger.settle(new Settlement(PAYER, 7, start.plusSeconds(600), ExecFixture.PROGRAM_ID, Amount.of(1)));
      now[0] = start.plusSeconds(700);
      ledger.settle(new Settlement(PAYER, 8, start.plusSeconds(800), ExecFixture.PROGRAM_ID, Amount.of(1)));
      assertEquals(1, storage.dump().get(LmdbLedger.DB_NONCES).size(), "a settlement prunes what expired first");
    }
  }

  private static PendingCommit append(Executor executor, Reservation payer, CapsuleFixture f, RecordWithBody record,
      AtomicLong refunded) throws Exception {
    ExecFixture.Builder append = new ExecFixture.Builder(f.id());
    append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(record)))));
    Meter meter = append.meter(ExecFixture.BUDGET, refunded);
    return (PendingCommit) executor.run(append.program(), append.data(), meter, payer, o -> { });
  }

  @Test
  void aCommitThatCannotGrowTheMapFailsCleanlyAndSettlesThroughTheRefunder() throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("full"), 1 << 20, 8 << 20, 8)) {
      Executor executor = new Executor(storage, Clock.systemUTC(), Duration.ofHours(1), Duration.ofSeconds(10), WireSizes.OUTPUT_ENVELOPE_BYTES, HOST,
          scheduler);
      CapsuleFixture f = new CapsuleFixture("map-full");
      LmdbLedger ledger = storage.ledger(Clock.systemUTC(), Amount.MAX);
      ledger.deposit(PAYER, Amount.ofCap(10_000));
      Reservations holds = ExecFixture.holds(ledger, Clock.systemUTC());
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
        PendingCommit pending = append(executor, ExecFixture.payer(holds, Clock.systemUTC(), PAYER), f, big, refunded);
        ProgramStoppedException e = assertThrows(ProgramStoppedException.class, pending::confirm);
        assertEquals(ProgramStoppedException.Reason.STORAGE, e.reason());
        assertInstanceOf(Env.MapFullException.class, e.getCause());
        Receipt receipt = e.receiptOrNull().verify(HOST.publicKey());
        assertTrue(receipt.failed());
        assertEquals(receipt.refund().units(), refunded.get(), "the failed program settles through the refunder");
        assertEquals(before, storage.dump(), "nothing applied, no settlement either");
        assertEquals(1 << 20, storage.mapSize(), "no growth while a snapshot is open");
        assertEquals(List.of(), held.heads());
      }
      // With the snapshot closed the same program commits: the map grows, records and charge land together.
      AtomicLong again = new AtomicLong();
      Receipt ok = append(executor, ExecFixture.payer(holds, Clock.systemUTC(), PAYER), f, big, again).confirm()
          .verify(HOST.publicKey());
      assertEquals(0, again.get());
      assertTrue(storage.mapSize() > 1 << 20);
      assertEquals(Amount.ofCap(10_000).minus(ok.finalCost()), ledger.balance(PAYER));
      assertEquals(big.record(), storage.recordByHashOrNull(big.hash()));
    } finally {
      scheduler.shutdownNow();
    }
  }

  @Test
  void theLedgerSharesTheEnvironmentAndItsSettlementsSurviveAReopen() throws Exception {
    Path path = dir.resolve("shared");
    CapsuleFixture f = new CapsuleFixture("shared-env");
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 8)) {
      LmdbLedger ledger = storage.ledger(Clock.systemUTC(), Amount.of(1000));
      ledger.deposit(PAYER, Amount.of(1000));
      try (Batch batch = storage.newBatch()) {
        batch.createCapsule(f.metadata);
        batch.settle(new Settlement(PAYER, 3, EXPIRY, ExecFixture.PROGRAM_ID, Amount.of(7)));
        batch.commit();
      }
      assertEquals(Amount.of(993), ledger.balance(PAYER));
      assertEquals(List.of(LmdbLedger.DB_ACCOUNTS, Layout.DB_BODIES, Layout.DB_DIGESTS, Layout.DB_DROPPED, Layout.DB_HEADS,
          Layout.DB_HEIGHTS, Layout.DB_MEMBER_RECORDS, Layout.DB_METADATA, LmdbLedger.DB_NONCE_EXPIRY, LmdbLedger.DB_NONCES,
          Layout.DB_PAYMENTS, Layout.DB_RECORD_CAPSULE, Layout.DB_RECORDS, LmdbLedger.DB_JOURNAL, Layout.DB_TREES),
          new ArrayList<>(storage.dump().keySet()), "one environment, one named database each");
    }
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 8)) {
      LmdbLedger ledger = storage.ledger(Clock.systemUTC(), Amount.MAX);
      assertEquals(Amount.of(993), ledger.balance(PAYER));
      assertEquals(ExecFixture.PROGRAM_ID, ledger.lastProgram(PAYER));
      assertTrue(ledger.nonceUsed(PAYER, 3));
      assertTrue(storage.hasCapsule(f.id()));
      assertNull(storage.recordByHashOrNull(f.id()));
    }
  }
}
