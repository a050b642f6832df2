package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

class MeterTest {
  private final PriceTable table = Fixtures.exampleTable();
  private final ProgramShape program = Fixtures.exampleProgram();
  private final Hash id = Fixtures.programId("worked example");
  private final Fixtures.RecordingRefunder refunder = new Fixtures.RecordingRefunder();

  private Meter open(long budget) throws BudgetExceededException {
    return Meter.open(table, id, Amount.of(budget), program.programBytes(), program.durationUnits(), refunder);
  }

  @Test
  void workedExampleCompletes() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(1300);
    List<InstructionDescriptor> ins = program.instructions();
    long[] responses = {80, 520, 64};
    for (int i = 0; i < 3; i++) {
      meter.chargeInstruction(ins.get(i));
      meter.chargeDownload(responses[i]);
    }
    Receipt r = meter.close();
    assertEquals(66_766, r.finalCost().units());
    assertEquals(3_234, r.refund().units());
    assertEquals(List.of(Amount.of(3_234)), refunder.refunds);
    assertEquals(CostModel.of(table).finalCost(program, 3, 1300, 664, false), r.cost());
  }

  @Test
  void workedExampleFailsDuringProve() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(1300);
    meter.chargeInstruction(program.instructions().get(0));
    meter.chargeDownload(80);
    meter.chargeInstruction(program.instructions().get(1));
    meter.fail();
    meter.chargeDownload(20); // the error response
    Receipt r = meter.close();
    assertTrue(r.failed());
    assertEquals(15_460, r.finalCost().units());
    assertEquals(54_540, r.refund().units());
    assertEquals(Amount.ZERO, r.cost().storage());
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
    meter.fail();
    Receipt r = meter.close();
    assertEquals(1, r.instructionsCharged());
    assertEquals(100 + 50_000, r.refund().units()); // the unspent rest plus the storage part
  }

  @Test
  void failingBeforeDuringOrAfterTheFirstInstructionRefundsExactlyTheUnspent() throws Exception {
    long budget = 70_000;
    InstructionDescriptor first = program.instructions().get(0);
    // before: only the program start and upload are spent
    Fixtures.RecordingRefunder before = new Fixtures.RecordingRefunder();
    Meter m = Meter.open(table, id, Amount.of(budget), 200, 10, before);
    m.chargeUpload(1300);
    m.fail();
    m.close();
    assertEquals(List.of(Amount.of(budget - 1400 - 1300)), before.refunds);
    // during: charged, then failed; storage (50000) comes back, instruction and memory do not
    Fixtures.RecordingRefunder during = new Fixtures.RecordingRefunder();
    m = Meter.open(table, id, Amount.of(budget), 200, 10, during);
    m.chargeUpload(1300);
    m.chargeInstruction(first);
    m.fail();
    m.close();
    assertEquals(List.of(Amount.of(budget - 1400 - 1300 - 6400 - 2200)), during.refunds);
    // after: the first instruction's response was sent, then the second failed to start
    Fixtures.RecordingRefunder after = new Fixtures.RecordingRefunder();
    m = Meter.open(table, id, Amount.of(budget), 200, 10, after);
    m.chargeUpload(1300);
    m.chargeInstruction(first);
    m.chargeDownload(80);
    m.fail();
    m.close();
    assertEquals(List.of(Amount.of(budget - 1400 - 1300 - 6400 - 2200 - 160)), after.refunds);
  }

  @Test
  void budgetTooSmallToStartRefundsTheWholeBudgetOnce() {
    BudgetExceededException e = assertThrows(BudgetExceededException.class, () -> open(1399));
    assertEquals(Amount.of(1400), e.needed());
    assertEquals(List.of(Amount.of(1399)), refunder.refunds);
  }

  @Test
  void closeIsIdempotentAndChargesAfterCloseAreRefused() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(10);
    Receipt first = meter.close();
    meter.fail(); // a late failure path changes nothing
    assertSame(first, meter.close());
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
        Meter meter = Meter.open(table, id, Amount.of(70_000), 200, 10, r);
        meter.chargeInstruction(program.instructions().get(0));
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Receipt>> closers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
          boolean failFirst = t % 2 == 0;
          closers.add(pool.submit(() -> {
            go.await();
            if (failFirst) {
              meter.fail();
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
  void closeThroughHandsTheRefundToTheSinkAndNeverToTheRefunder() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(1300);
    meter.chargeInstruction(program.instructions().get(0));
    List<Amount> sunk = new ArrayList<>();
    Receipt r = meter.closeThrough(sunk::add);
    assertEquals(List.of(r.refund()), sunk);
    assertTrue(refunder.refunds.isEmpty(), "the refunder is not called");
    assertEquals(70_000, r.finalCost().units() + r.refund().units());
    assertTrue(!r.failed() && r.cost().storage().units() > 0, "a success keeps the storage part");
    // Closed: close, fail and closeThrough change nothing and refund nothing more.
    meter.fail();
    assertSame(r, meter.close());
    assertSame(r, meter.closeThrough(a -> { throw new AssertionError("called again"); }));
    assertEquals(1, sunk.size());
    assertTrue(refunder.refunds.isEmpty());
    assertThrows(IllegalStateException.class, () -> meter.chargeUpload(1));
  }

  @Test
  void aThrowingSinkLeavesTheMeterOpenSoAFailureRefundsTheLargerAmountOnce() throws Exception {
    Meter meter = open(70_000);
    meter.chargeUpload(1300);
    meter.chargeInstruction(program.instructions().get(0));
    long successRefund = 70_000 - meter.charged().total().units();
    Exception e = assertThrows(Exception.class, () -> meter.closeThrough(a -> {
      assertEquals(successRefund, a.units());
      throw new Exception("commit failed");
    }));
    assertEquals("commit failed", e.getMessage());
    assertTrue(refunder.refunds.isEmpty());
    meter.chargeDownload(20); // still open: the error response can be charged
    meter.fail();
    Receipt r = meter.close();
    assertTrue(r.failed());
    assertEquals(List.of(r.refund()), refunder.refunds);
    assertEquals(successRefund - 40 + 50_000, r.refund().units(), "the storage part comes back too");
  }

  @Test
  void closeThroughOfAFailedMeterRefundsTheStoragePart() throws Exception {
    Meter meter = open(70_000);
    meter.chargeInstruction(program.instructions().get(0));
    meter.fail();
    List<Amount> sunk = new ArrayList<>();
    Receipt r = meter.closeThrough(sunk::add);
    assertTrue(r.failed());
    assertEquals(Amount.ZERO, r.cost().storage());
    assertEquals(List.of(r.refund()), sunk);
    assertTrue(refunder.refunds.isEmpty());
  }
}
