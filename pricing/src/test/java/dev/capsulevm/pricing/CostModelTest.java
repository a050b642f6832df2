package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The figures of the worked example in docs/PROTOCOL.md, "Cost", computed by hand. */
class CostModelTest {
  private final CostModel model = CostModel.of(Fixtures.exampleTable());
  private final ProgramShape program = Fixtures.exampleProgram();

  @Test
  void singleFormulas() {
    InstructionDescriptor append = program.instructions().get(0);
    InstructionDescriptor prove = program.instructions().get(1);
    InstructionDescriptor heads = program.instructions().get(2);
    assertEquals(1000 + 2 * 200, model.programCost(200).units());
    assertEquals(2000 + 4 * (1000 + 100), model.instructionCost(append).units()); // 6400
    assertEquals(1 * (1000 + 100) * 2, model.memoryCost(append).units()); // 2200
    assertEquals(5 * 1000 * 10, model.storageCost(append, 10).units()); // 50000
    assertEquals(800 + 2 * 632, model.instructionCost(prove).units()); // 2064
    assertEquals(632 * 3, model.memoryCost(prove).units()); // 1896
    assertEquals(50 + 64, model.instructionCost(heads).units()); // 114
    assertEquals(64, model.memoryCost(heads).units());
    assertEquals(1300, model.uploadCost(1300).units());
    assertEquals(2 * 764, model.downloadCost(764).units());
  }

  @Test
  void estimateOfTheWorkedExample() {
    CostBreakdown estimate = model.estimate(program);
    assertEquals(new CostBreakdown(Amount.of(9978), Amount.of(2828), Amount.of(4160), Amount.of(50000)), estimate);
    assertEquals(66966, estimate.total().units());
  }

  @Test
  void finalCostOfTheWorkedExample() {
    CostBreakdown done = model.finalCost(program, 3, 1300, 80 + 520 + 64, false);
    assertEquals(new CostBreakdown(Amount.of(9978), Amount.of(2628), Amount.of(4160), Amount.of(50000)), done);
    assertEquals(66766, done.total().units());
    // The failed run of docs/PROTOCOL.md: PROVE is charged and fails, so only the first output was sent.
    CostBreakdown failed = model.finalCost(program, 2, 1300, 80, true);
    assertEquals(new CostBreakdown(Amount.of(9864), Amount.of(1460), Amount.of(4096), Amount.ZERO), failed);
    assertEquals(15420, failed.total().units());
  }

  @Test
  void overflowIsRefusedNotWrapped() {
    ProgramShape huge = new ProgramShape(0, 0, Long.MAX_VALUE / 2,
        List.of(new InstructionDescriptor(InstructionKind.APPEND_RECORD, 1, 1, 1000)));
    assertThrows(AmountOverflowException.class, () -> model.estimate(huge));
    ProgramShape wide = new ProgramShape(0, Long.MAX_VALUE, 0, List.of());
    assertEquals(Long.MAX_VALUE, model.estimate(wide).bandwidth().units()); // 1 unit per byte still fits
    assertThrows(AmountOverflowException.class, () -> model.estimate(wide).total()); // + program base does not
    assertThrows(AmountOverflowException.class,
        () -> new InstructionDescriptor(InstructionKind.PROVE, Long.MAX_VALUE, 1, 0).bytesHandled());
  }

  @Test
  void limitsRefuseOversizedPrograms() {
    Limits limits = Fixtures.exampleLimits();
    PricingException big = assertThrows(PricingException.class,
        () -> limits.check(new ProgramShape(65_537, 0, 0, List.of())));
    assertEquals(PricingException.Reason.LIMIT_EXCEEDED, big.reason());
    assertTrue(big.getMessage().contains("maxProgramBytes"));
    PricingException record = assertThrows(PricingException.class, () -> limits.check(new ProgramShape(10, 0, 0,
        List.of(new InstructionDescriptor(InstructionKind.APPEND_RECORD, (1 << 20) + 1, 0, 0)))));
    assertTrue(record.getMessage().contains("maxRecordBytes"));
  }
}
