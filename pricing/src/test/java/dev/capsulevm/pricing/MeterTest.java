package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.merkle.Merkle;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class MeterTest {
  private static final int NOT_FOUND = 4;
  private static final int BUDGET = 2;

  private final PriceTable table = Fixtures.exampleTable();
  private final ProgramShape program = Fixtures.exampleProgram();
  private final Hash id = Fixtures.programId("worked example");
  private final Hash capsule = Fixtures.programId("a capsule");
  private final Fixtures.RecordingRefunder refunder = new Fixtures.RecordingRefunder();

  private Meter open(long budget) throws BudgetExceededException {
    return Meter.open(table, id, capsule, Amount.of(budget), program.programBytes(), program.durationUnits(),
        refunder, Fixtures.CLOCK);
  }

  @Test
  void workedExampleCompletes() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(1300);
    List<InstructionDescriptor> ins = program.instructions();
    long[] responses = {80, 520, 64};
    for (int i = 0; i < 3; i++) {
      meter.chargeInstruction(ins.get(i));
      meter.chargeOutput(responses[i], Fixtures.leaf(i));
    }
    Receipt r = meter.close();
    assertEquals(66_766, r.finalCost().units());
    assertEquals(3_234, r.refund().units());
    assertEquals(List.of(Amount.of(3_234)), refunder.refunds);
    assertEquals(List.of(id), refunder.programs, "the refund names the program");
    assertEquals(CostModel.of(table).finalCost(program, 3, 1300, 664, false), r.cost());
    assertEquals(3, r.outputCount());
    assertEquals(Fixtures.transcriptRoot(3), r.transcriptRoot());
    assertEquals(Receipt.Completed.NOTHING_COMMITTED, r.end());
    assertEquals(table.hostKey(), r.hostKey());
    assertEquals(table.id(), r.priceTableId());
    assertEquals(capsule, r.capsuleIdOrNull());
    assertEquals(Fixtures.CLOCK.instant(), r.issuedAt());
  }

  @Test
  void workedExampleFailsDuringProve() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(1300);
    meter.chargeInstruction(program.instructions().get(0));
    meter.chargeOutput(80, Fixtures.leaf(0));
    meter.chargeInstruction(program.instructions().get(1));
    meter.fail(1, NOT_FOUND, "no proof from the anchor");
    Receipt r = meter.close();
    assertTrue(r.failed());
    // instruction 9864 + bandwidth 1300 + 2 × 80 + memory 4096; the storage part (50000) comes back
    assertEquals(15_420, r.finalCost().units());
    assertEquals(54_580, r.refund().units());
    assertEquals(Amount.ZERO, r.cost().storage());
    assertEquals(new Receipt.Failed(1, NOT_FOUND, "no proof from the anchor"), r.end());
    assertEquals(1, r.outputCount());
    assertEquals(Fixtures.transcriptRoot(1), r.transcriptRoot());
    assertEquals(2, r.instructionsCharged());
  }

  @Test
  void theFirstFailureWinsAndLaterOnesChangeNothing() throws Exception {
    Meter meter = open(70_000);
    meter.chargeInstruction(program.instructions().get(0));
    meter.fail(0, NOT_FOUND, "first");
    meter.fail(-1, 12, "the host is shutting down");
    meter.fail(2, 3, "third");
    Receipt r = meter.close();
    assertEquals(new Receipt.Failed(0, NOT_FOUND, "first"), r.end());
    meter.fail(1, 1, "after close");
    assertSame(r, meter.close());
  }

  @Test
  void aFailureOutsideAnyInstructionHasNoIndex() throws Exception {
    Meter meter = open(70_000);
    meter.fail(Receipt.NO_INSTRUCTION, 11, "the renter cancelled the call");
    Receipt r = meter.close();
    assertEquals(Receipt.NO_INSTRUCTION, r.failedInstruction());
    assertEquals(11, r.failureReason());
  }

  @Test
  void failureArgumentsAreCheckedEvenWhenAnotherFailureAlreadyWon() throws Exception {
    Meter meter = open(70_000);
    meter.fail(0, NOT_FOUND, "first");
    assertThrows(IllegalArgumentException.class, () -> meter.fail(-2, NOT_FOUND, "x"));
    assertThrows(IllegalArgumentException.class, () -> meter.fail(0, 0, "x"));
    assertThrows(IllegalArgumentException.class, () -> meter.fail(0, 256, "x"));
    assertEquals("first", meter.close().failureMessage());
  }

  @Test
  void longFailureMessagesAreCutToTheLimitAtACharacterBoundary() throws Exception {
    Meter meter = open(70_000);
    // 1023 ASCII bytes then a 3-byte character: it does not fit whole, so it is dropped.
    String message = "x".repeat(1023) + "€€";
    meter.fail(0, NOT_FOUND, message);
    String kept = meter.close().failureMessage();
    assertEquals("x".repeat(1023), kept);
    assertTrue(kept.getBytes(StandardCharsets.UTF_8).length <= Receipt.MAX_MESSAGE_BYTES);
  }

  @Test
  void anOutputThatCannotBePaidForIsNeitherChargedNorInTheTranscript() throws Exception {
    // start 1400 + instruction 2 (114 + 64 = 178) leaves 2 units: a 2-byte response costs 4.
    Meter meter = Meter.open(table, id, null, Amount.of(1400 + 178 + 2), 200, 10, refunder, Fixtures.CLOCK);
    meter.chargeInstruction(program.instructions().get(2));
    assertThrows(BudgetExceededException.class, () -> meter.chargeOutput(2, Fixtures.leaf(0)));
    meter.chargeOutput(1, Fixtures.leaf(1));
    Receipt r = meter.close();
    assertEquals(1, r.outputCount());
    assertEquals(1, r.downloadBytes());
    assertEquals(Merkle.rootOfLeafHashes(List.of(Fixtures.leaf(1))), r.transcriptRoot());
  }

  @Test
  void aProgramWithoutOutputsHasTheEmptyTranscript() throws Exception {
    Receipt r = open(70_000).close();
    assertEquals(0, r.outputCount());
    assertEquals(Merkle.emptyRoot(), r.transcriptRoot());
  }

  @Test
  void everyOutputAnswersAChargedInstruction() throws Exception {
    Meter meter = open(70_000);
    assertThrows(IllegalStateException.class, () -> meter.chargeOutput(10, Fixtures.leaf(0)));
    meter.chargeInstruction(program.instructions().get(2));
    meter.chargeOutput(10, Fixtures.leaf(0));
    assertThrows(IllegalStateException.class, () -> meter.chargeOutput(10, Fixtures.leaf(1)));
    assertEquals(1, meter.close().outputCount());
  }

  @Test
  void issuedAtIsTheClockAtSettlementToTheMillisecond() throws Exception {
    Instant now = Instant.ofEpochSecond(1_800_000_100L, 123_456_789);
    Meter meter = Meter.open(table, id, null, Amount.of(70_000), 200, 10, refunder,
        Clock.fixed(now, ZoneOffset.UTC));
    assertEquals(Instant.ofEpochSecond(1_800_000_100L, 123_000_000), meter.close().issuedAt());
  }

  @Test
  void refusesBeforeRunningAndNamesNeededAndLeft() throws Exception {
    // Enough for start (1400) + upload (1300) + first instruction (58600) but not the next (3960).
    Meter meter = open(1400 + 1300 + 58_600 + 100);
    meter.chargeUpload(1300);
    meter.chargeInstruction(program.instructions().get(0));
    BudgetExceededException e = assertThrows(BudgetExceededException.class,
        () -> meter.chargeInstruction(program.instructions().get(1)));
    assertEquals(Amount.of(2064 + 1896), e.needed());
    assertEquals(Amount.of(100), e.left());
    assertTrue(e.getMessage().contains("3960") && e.getMessage().contains("100"), e.getMessage());
    assertEquals(Amount.of(100), meter.remaining()); // nothing was taken for the refused instruction
    meter.fail(1, BUDGET, e.getMessage());
    Receipt r = meter.close();
    assertEquals(1, r.instructionsCharged());
    assertEquals(1, r.failedInstruction(), "the refused instruction is the failing one, though not charged");
    assertEquals(100 + 50_000, r.refund().units()); // the unspent rest plus the storage part
  }

  @Test
  void failingBeforeDuringOrAfterTheFirstInstructionRefundsExactlyTheUnspent() throws Exception {
    long budget = 70_000;
    InstructionDescriptor first = program.instructions().get(0);
    // before: only the program start and upload are spent
    Fixtures.RecordingRefunder before = new Fixtures.RecordingRefunder();
    Meter m = Meter.open(table, id, capsule, Amount.of(budget), 200, 10, before, Fixtures.CLOCK);
    m.chargeUpload(1300);
    m.fail(0, 1, "data");
    m.close();
    assertEquals(List.of(Amount.of(budget - 1400 - 1300)), before.refunds);
    // during: charged, then failed; storage (50000) comes back, instruction and memory do not
    Fixtures.RecordingRefunder during = new Fixtures.RecordingRefunder();
    m = Meter.open(table, id, capsule, Amount.of(budget), 200, 10, during, Fixtures.CLOCK);
    m.chargeUpload(1300);
    m.chargeInstruction(first);
    m.fail(0, 3, "invalid input");
    m.close();
    assertEquals(List.of(Amount.of(budget - 1400 - 1300 - 6400 - 2200)), during.refunds);
    // after: the first instruction's output was sent, then the second failed to start
    Fixtures.RecordingRefunder after = new Fixtures.RecordingRefunder();
    m = Meter.open(table, id, capsule, Amount.of(budget), 200, 10, after, Fixtures.CLOCK);
    m.chargeUpload(1300);
    m.chargeInstruction(first);
    m.chargeOutput(80, Fixtures.leaf(0));
    m.fail(1, NOT_FOUND, "not found");
    m.close();
    assertEquals(List.of(Amount.of(budget - 1400 - 1300 - 6400 - 2200 - 160)), after.refunds);
  }

  @Test
  void budgetTooSmallToStartOpensNoMeterAndLeavesTheBudgetToTheCaller() {
    BudgetExceededException e = assertThrows(BudgetExceededException.class, () -> open(1399));
    assertEquals(Amount.of(1400), e.needed());
    assertEquals(List.of(), refunder.refunds, "nothing settles: the caller releases the budget it holds");
  }

  @Test
  void closeIsIdempotentAndChargesAfterCloseAreRefused() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(10);
    Receipt first = meter.close();
    meter.fail(0, NOT_FOUND, "late"); // a late failure path changes nothing
    assertSame(first, meter.close());
    assertFalse(first.failed());
    assertEquals(1, refunder.refunds.size());
    assertThrows(IllegalStateException.class, () -> meter.chargeUpload(1));
    assertThrows(IllegalStateException.class, () -> meter.chargeInstruction(program.instructions().get(2)));
  }

  @Test
  void racingFailureAndFinishRefundOnce() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      for (int round = 0; round < 200; round++) {
        Fixtures.RecordingRefunder r = new Fixtures.RecordingRefunder();
        Meter meter = Meter.open(table, id, null, Amount.of(70_000), 200, 10, r, Fixtures.CLOCK);
        meter.chargeInstruction(program.instructions().get(0));
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Receipt>> closers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
          int thread = t;
          closers.add(pool.submit(() -> {
            go.await();
            if (thread % 2 == 0) {
              meter.fail(thread, NOT_FOUND, "thread " + thread);
            }
            return meter.close();
          }));
        }
        go.countDown();
        Receipt receipt = closers.get(0).get();
        for (Future<Receipt> f : closers) {
          assertSame(receipt, f.get());
        }
        assertEquals(1, r.refunds.size());
        assertEquals(receipt.refund(), r.refunds.get(0));
        assertEquals(70_000, receipt.finalCost().units() + r.total());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void closeThroughStatesTheHeadsAndHandsTheRefundToTheSinkNeverToTheRefunder() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(1300);
    meter.chargeInstruction(program.instructions().get(0));
    meter.chargeOutput(80, Fixtures.leaf(0));
    List<Hash> heads = sorted(Fixtures.programId("head a"), Fixtures.programId("head b"));
    List<Amount> sunk = new ArrayList<>();
    List<Hash> sunkPrograms = new ArrayList<>();
    Receipt r = meter.closeThrough(heads, (refund, program) -> {
      sunk.add(refund);
      sunkPrograms.add(program);
    });
    assertEquals(List.of(r.refund()), sunk);
    assertEquals(List.of(id), sunkPrograms);
    assertEquals(heads, r.committedHeads());
    assertTrue(refunder.refunds.isEmpty(), "the refunder is not called");
    assertEquals(70_000, r.finalCost().units() + r.refund().units());
    assertTrue(!r.failed() && r.cost().storage().units() > 0, "a success keeps the storage part");
    // Closed: close, fail and closeThrough change nothing and refund nothing more.
    meter.fail(0, NOT_FOUND, "late");
    assertSame(r, meter.close());
    assertSame(r, meter.closeThrough(List.of(), (a, p) -> {
      throw new AssertionError("called again");
    }));
    assertEquals(1, sunk.size());
    assertTrue(refunder.refunds.isEmpty());
    assertThrows(IllegalStateException.class, () -> meter.chargeUpload(1));
  }

  @Test
  void headsThatCannotBeStatedAreRefusedBeforeTheSinkIsCalled() throws Exception {
    Hash a = Fixtures.programId("head a");
    Hash b = Fixtures.programId("head b");
    List<Hash> descending = List.of(sorted(a, b).get(1), sorted(a, b).get(0));
    Meter meter = open(70_000);
    assertThrows(IllegalArgumentException.class, () -> meter.closeThrough(descending, (r, p) -> {
      throw new AssertionError("sink called");
    }));
    assertThrows(IllegalArgumentException.class, () -> meter.closeThrough(List.of(a, a), (r, p) -> {
      throw new AssertionError("sink called");
    }));
    Meter noCapsule = Meter.open(table, id, null, Amount.of(70_000), 200, 10, refunder, Fixtures.CLOCK);
    assertThrows(IllegalArgumentException.class, () -> noCapsule.closeThrough(List.of(a), (r, p) -> {
      throw new AssertionError("sink called");
    }));
    // Both meters are still open and settle normally.
    assertEquals(List.of(), noCapsule.closeThrough(List.of(), (r, p) -> { }).committedHeads());
    assertFalse(meter.close().failed());
  }

  @Test
  void aThrowingSinkLeavesTheMeterOpenSoAFailureRefundsTheLargerAmountOnce() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(1300);
    meter.chargeInstruction(program.instructions().get(0));
    long successRefund = 70_000 - meter.charged().total().units();
    Exception e = assertThrows(Exception.class, () -> meter.closeThrough(List.of(capsule), (a, p) -> {
      assertEquals(successRefund, a.units());
      throw new Exception("commit failed");
    }));
    assertEquals("commit failed", e.getMessage());
    assertTrue(refunder.refunds.isEmpty());
    meter.chargeOutput(20, Fixtures.leaf(0)); // still open: an output can be charged
    meter.fail(-1, 6, "storage refused the commit");
    Receipt r = meter.close();
    assertTrue(r.failed());
    assertEquals(List.of(), r.committedHeads());
    assertEquals(List.of(r.refund()), refunder.refunds);
    assertEquals(successRefund - 40 + 50_000, r.refund().units(), "the storage part comes back too");
  }

  @Test
  void closeThroughOfAFailedMeterRefundsTheStoragePartAndStatesNoHeads() throws Exception {
    Meter meter = open(70_000);
    meter.chargeInstruction(program.instructions().get(0));
    meter.fail(-1, 7, "refused");
    List<Amount> sunk = new ArrayList<>();
    Receipt r = meter.closeThrough(List.of(capsule), (refund, p) -> sunk.add(refund));
    assertTrue(r.failed());
    assertEquals(List.of(), r.committedHeads());
    assertEquals(Amount.ZERO, r.cost().storage());
    assertEquals(List.of(r.refund()), sunk);
    assertTrue(refunder.refunds.isEmpty());
  }

  @Test
  void aReceiptWithoutACapsuleSaysSo() throws Exception {
    Receipt r = Meter.open(table, id, null, Amount.of(70_000), 200, 10, refunder, Fixtures.CLOCK).close();
    assertNull(r.capsuleIdOrNull());
  }

  private static List<Hash> sorted(Hash a, Hash b) {
    return a.compareTo(b) < 0 ? List.of(a, b) : List.of(b, a);
  }
}
