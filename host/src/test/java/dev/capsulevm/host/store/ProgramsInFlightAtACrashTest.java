package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.Outcome;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.storage.Batch;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash simulated deterministically: programs run as a host runs them (budget held, cost settled once
 * at the end), then the store is closed with some of them in flight, without their end, and opened
 * again, as after a SIGKILL (LMDB keeps exactly the commits made). Every settled program is in the ledger
 * with its receipt's cost; the programs in flight took nothing, and their withdrawals, never charged,
 * may pay once more; a settled withdrawal stays spent. {@link CrashSafetyTest} does the same with real
 * kills at random moments.
 */
class ProgramsInFlightAtACrashTest {
  private static final PublicKey PAYER = ExecFixture.key(0x36).publicKey();
  private static final long FUND = Amount.ofCap(10_000).units();

  @TempDir Path dir;
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  private final Clock clock = Clock.systemUTC();

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  private Executor executor(LmdbCapsuleStorage storage) {
    return new Executor(storage, clock, Duration.ofHours(1), Duration.ofSeconds(10), WireSizes.OUTPUT_ENVELOPE_BYTES,
        ExecFixture.HOST, scheduler);
  }

  private Reservation hold(Reservations holds, long nonce) throws PricingException {
    return holds.reserve(PAYER, Amount.of(ExecFixture.BUDGET), nonce,
        clock.instant().plusSeconds(3600).truncatedTo(ChronoUnit.SECONDS));
  }

  private static Meter meter(Reservations holds, Reservation payment, Hash program, Hash capsule) throws Exception {
    return Meter.open(ExecFixture.table(), program, capsule, payment.amount(), 100, 10, holds.refunderFor(payment),
        Clock.systemUTC());
  }

  private static Hash program(int n) {
    return dev.capsulevm.proofs.Sha256.untagged(new byte[] {(byte) n});
  }

  @Test
  void programsInFlightAtACrashTakeNothingAndEverySettledOneStays() throws Exception {
    Path path = dir.resolve("store");
    CapsuleFixture f = new CapsuleFixture("in-flight");
    RecordWithBody r1 = f.record(List.of(f.id()), "r1", 1);
    Receipt read;
    long readNonce = 1;
    long writeNonce = 2;
    long idleNonce = 3;
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 16)) {
      LmdbLedger ledger = storage.ledger(clock, Amount.MAX);
      ledger.deposit(PAYER, Amount.of(FUND));
      try (Batch batch = storage.newBatch()) {
        batch.createCapsule(f.metadata);
        batch.commit();
      }
      Reservations holds = ExecFixture.holds(ledger, clock);
      Executor executor = executor(storage);
      // A read-only program ends and settles: its receipt may be sent.
      Reservation paidRead = hold(holds, readNonce);
      ExecFixture.Builder heads = new ExecFixture.Builder(f.id()).add(new Instruction.Heads());
      read = ((Outcome.Finished) executor.run(heads.program(), heads.data(), meter(holds, paidRead, program(1), f.id()),
          paidRead, o -> { })).receipt().receipt();
      assertTrue(paidRead.isCommitted());
      // A write program waits for its confirmation, and another program is admitted but has not run: the
      // host dies now.
      Reservation paidWrite = hold(holds, writeNonce);
      ExecFixture.Builder append = new ExecFixture.Builder(f.id());
      append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(r1)))));
      assertInstanceOf(PendingCommit.class, executor.run(append.program(), append.data(),
          meter(holds, paidWrite, program(2), f.id()), paidWrite, o -> { }));
      hold(holds, idleNonce);
      assertEquals(Amount.of(FUND - read.finalCost().units() - 2 * ExecFixture.BUDGET), holds.spendable(PAYER));
      assertEquals(Amount.of(FUND - read.finalCost().units()), ledger.balance(PAYER), "only the ended one is written");
    } // closed without the pending commit or the idle program's end: what a SIGKILL leaves

    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(path, 16L << 20, 16)) {
      LmdbLedger ledger = storage.ledger(clock, Amount.MAX);
      assertEquals(Amount.of(FUND - read.finalCost().units()), ledger.balance(PAYER),
          "the programs in flight took nothing");
      List<Settlement> settled = ledger.settlements(PAYER);
      assertEquals(1, settled.size());
      assertEquals(new Settlement(PAYER, readNonce, settled.get(0).expiry(), program(1), read.finalCost()),
          settled.get(0), "the settled program is there with its receipt's cost");
      assertNull(storage.recordByHashOrNull(r1.hash()), "the unconfirmed write is not");
      assertFalse(ledger.nonceUsed(PAYER, writeNonce));
      Reservations holds = ExecFixture.holds(ledger, clock);
      assertEquals(PricingException.Reason.REPLAYED_NONCE,
          assertThrows(PricingException.class, () -> hold(holds, readNonce)).reason(), "a settled withdrawal stays spent");
      // The write's withdrawal was never charged: presented again it pays once, with its records.
      Reservation again = hold(holds, writeNonce);
      ExecFixture.Builder append = new ExecFixture.Builder(f.id());
      append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(r1)))));
      Receipt written = ((PendingCommit) executor(storage).run(append.program(), append.data(),
          meter(holds, again, program(2), f.id()), again, o -> { })).confirm().receipt();
      assertEquals(Amount.of(FUND - read.finalCost().units() - written.finalCost().units()), ledger.balance(PAYER));
      assertEquals(List.of(r1.hash()), storage.heads(f.id()));
      assertEquals(PricingException.Reason.REPLAYED_NONCE,
          assertThrows(PricingException.class, () -> hold(holds, writeNonce)).reason());
      assertTrue(hold(holds, idleNonce).isHeld(), "the idle program's withdrawal was never charged either");
    }
  }
}
