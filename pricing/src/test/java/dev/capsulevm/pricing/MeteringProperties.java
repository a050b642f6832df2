package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * For random prices and program shapes, a host running the program honestly meters no more than the
 * estimate, the renter's recomputation equals the signed receipt to the unit, and the refund is exactly
 * the unspent budget, once, whether the program finishes, fails or runs out of budget.
 */
class MeteringProperties {
  private static final Hash PROGRAM = Fixtures.programId("property");

  @Provide
  Arbitrary<Prices> prices() {
    return Arbitraries.longs().between(0, 1000).list().ofSize(20).map(p -> {
      Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
      int i = 2;
      for (InstructionKind kind : InstructionKind.values()) {
        m.put(kind, InstructionPrice.of(p.get(i), p.get(i + 1)));
        i += 2;
      }
      return new Prices(Amount.of(p.get(0)), Amount.of(p.get(1)), m, Amount.of(p.get(18)), Amount.of(p.get(19)),
          Amount.of(p.get(0) % 7), Amount.of(p.get(1) % 11));
    });
  }

  @Provide
  Arbitrary<ProgramShape> shapes() {
    Arbitrary<Long> bytes = Arbitraries.longs().between(0, 100_000);
    Arbitrary<InstructionDescriptor> instruction = Combinators.combine(
        Arbitraries.of(InstructionKind.class), bytes, bytes, bytes).as(InstructionDescriptor::new);
    return Combinators.combine(Arbitraries.longs().between(0, 10_000), Arbitraries.longs().between(0, 20_000),
        Arbitraries.longs().between(0, 1_000), instruction.list().ofMaxSize(20)).as(ProgramShape::new);
  }

  private static PriceTable table(Prices prices) {
    return new PriceTable(Fixtures.HOST.publicKey(), Fixtures.VALID_FROM, Fixtures.VALID_UNTIL, prices,
        Fixtures.exampleLimits());
  }

  /** What one honest run did, as both sides count it. */
  private record Run(@Nullable Receipt receipt, RenterCheck.@Nullable Observed observed, List<Amount> refunds) {}

  /** Runs the program on a meter, making the run's choices (sizes, failure point) from {@code seed}. */
  private static Run run(PriceTable table, ProgramShape shape, Amount budget, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    Fixtures.RecordingRefunder refunder = new Fixtures.RecordingRefunder();
    int n = shape.instructions().size();
    // -1: completes; k: fails at instruction k, before (even choice) or after (odd) it was charged.
    int failAt = random.nextInt(n + 2) - 1;
    boolean chargedBeforeFailing = random.nextBoolean();
    long sent = 0;
    long received = 0;
    int outputs = 0;
    Meter meter;
    try {
      meter = Meter.open(table, PROGRAM, null, budget, shape.programBytes(), shape.durationUnits(), refunder,
          Fixtures.CLOCK);
    } catch (BudgetExceededException e) {
      assertEquals(List.of(), refunder.refunds, "a meter that never opened settles nothing");
      return new Run(null, null, refunder.refunds);
    }
    try {
      // The request arrives as up to four messages that add up to requestBytes.
      long left = shape.requestBytes();
      for (int m = 0; m < 3 && left > 0; m++) {
        long part = random.nextLong(left + 1);
        meter.chargeUpload(part);
        sent += part;
        left -= part;
      }
      meter.chargeUpload(left);
      sent += left;
      for (int i = 0; i < n; i++) {
        InstructionDescriptor d = shape.instructions().get(i);
        if (i == failAt && !chargedBeforeFailing) {
          meter.fail(i, 4, "not found");
          break;
        }
        meter.chargeInstruction(d);
        long response = random.nextLong(d.maxOutputBytes() + 1);
        meter.chargeOutput(response, Fixtures.leaf(i));
        received += response;
        outputs++;
        if (i == failAt) {
          meter.fail(i, 3, "invalid input");
          break;
        }
      }
    } catch (BudgetExceededException e) {
      assertTrue(e.needed().exceeds(e.left()));
      meter.fail(-1, 2, "budget");
    }
    Receipt receipt = meter.close();
    meter.close();
    return new Run(receipt, new RenterCheck.Observed(sent, received, outputs, Fixtures.transcriptRoot(outputs),
        receipt.end()), refunder.refunds);
  }

  @Property(tries = 1000, edgeCases = EdgeCasesMode.MIXIN)
  void estimateBoundsTheMeterAndTheRenterAgreesToTheUnit(
      @ForAll("prices") Prices prices, @ForAll("shapes") ProgramShape shape, @ForAll long seed) throws Exception {
    PriceTable table = table(prices);
    CostBreakdown estimate = CostModel.of(table).estimate(shape);
    Amount budget = estimate.total().plus(Amount.of(Math.floorMod(seed, 1000)));
    Run run = run(table, shape, budget, seed);
    Receipt r = run.receipt();
    CostBreakdown cost = r.cost();
    assertTrue(cost.instruction().compareTo(estimate.instruction()) <= 0);
    assertTrue(cost.bandwidth().compareTo(estimate.bandwidth()) <= 0);
    assertTrue(cost.memory().compareTo(estimate.memory()) <= 0);
    assertTrue(cost.storage().compareTo(estimate.storage()) <= 0);
    assertTrue(r.finalCost().compareTo(estimate.total()) <= 0);
    Receipt checked = RenterCheck.check(r.sign(Fixtures.HOST), table, shape, PROGRAM, null, budget, run.observed());
    assertEquals(r, checked);
    assertEquals(List.of(budget.minus(r.finalCost())), run.refunds());
  }

  @Property(tries = 1000, edgeCases = EdgeCasesMode.MIXIN)
  void aShortBudgetIsRefusedBeforeWorkAndRefundsExactlyTheUnspent(
      @ForAll("prices") Prices prices, @ForAll("shapes") ProgramShape shape, @ForAll long seed) throws Exception {
    PriceTable table = table(prices);
    long estimate = CostModel.of(table).estimate(shape).total().units();
    Amount budget = Amount.of(new SplittableRandom(seed).nextLong(estimate + 1));
    Run run = run(table, shape, budget, seed);
    if (run.receipt() == null) {
      // The program could not even start: no meter, nothing settled; the caller releases the budget.
      assertEquals(0, run.refunds().size(), "nothing settles");
      return;
    }
    assertEquals(1, run.refunds().size(), "refunded exactly once");
    assertTrue(run.refunds().get(0).compareTo(budget) <= 0, "never more than the budget");
    Receipt r = run.receipt();
    assertEquals(budget, r.finalCost().plus(run.refunds().get(0)));
    RenterCheck.check(r.sign(Fixtures.HOST), table, shape, PROGRAM, null, budget, run.observed());
  }
}
