package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import org.junit.jupiter.api.Test;

class ReceiptTest {
  private final PriceTable table = Fixtures.exampleTable();
  private final ProgramShape program = Fixtures.exampleProgram();
  private final Hash id = Fixtures.programId("worked example");

  private Receipt run() throws Exception {
    Meter meter = Meter.open(table, id, Amount.of(70_000), 200, 10, amount -> {});
    meter.chargeUpload(1300);
    long[] responses = {80, 520, 64};
    for (int i = 0; i < 3; i++) {
      meter.chargeInstruction(program.instructions().get(i));
      meter.chargeDownload(responses[i]);
    }
    return meter.close();
  }

  @Test
  void roundTripsAndTheRenterAgreesToTheUnit() throws Exception {
    SignedReceipt signed = run().sign(Fixtures.HOST);
    byte[] bytes = signed.encode();
    assertEquals(198, bytes.length);
    SignedReceipt parsed = SignedReceipt.parse(bytes);
    assertEquals(signed, parsed);
    assertArrayEquals(bytes, parsed.encode());
    Receipt checked = RenterCheck.check(parsed, table, program, id, Amount.of(70_000), 1300, 664);
    assertEquals(66_766, checked.finalCost().units());
  }

  @Test
  void aHostThatOverchargesIsCaughtEvenWithAValidSignature() throws Exception {
    Receipt honest = run();
    CostBreakdown c = honest.cost();
    // One unit more bandwidth, one unit less refund: still adds up to the budget, still signed.
    Receipt padded = new Receipt(honest.programId(), honest.priceTableId(), honest.budget(), false,
        honest.instructionsCharged(), honest.uploadBytes(), honest.downloadBytes(),
        new CostBreakdown(c.instruction(), c.bandwidth().plus(Amount.of(1)), c.memory(), c.storage()),
        honest.refund().minus(Amount.of(1)));
    PricingException e = assertThrows(PricingException.class, () -> RenterCheck.check(
        padded.sign(Fixtures.HOST), table, program, id, Amount.of(70_000), 1300, 664));
    assertEquals(PricingException.Reason.RECEIPT_MISMATCH, e.reason());
    assertTrue(e.getMessage().contains("cost.bandwidth"), e.getMessage());
    // A host claiming the renter received more than it did.
    PricingException bytes = assertThrows(PricingException.class, () -> RenterCheck.check(
        honest.sign(Fixtures.HOST), table, program, id, Amount.of(70_000), 1300, 663));
    assertTrue(bytes.getMessage().contains("downloadBytes"), bytes.getMessage());
    // Signed by a key other than the table's host.
    assertEquals(PricingException.Reason.BAD_SIGNATURE, assertThrows(PricingException.class,
        () -> RenterCheck.check(honest.sign(Fixtures.OTHER), table, program, id, Amount.of(70_000), 1300, 664))
        .reason());
  }

  @Test
  void inconsistentReceiptsCannotBeBuilt() {
    assertThrows(IllegalArgumentException.class, () -> new Receipt(id, id, Amount.of(10), false, 0, 0, 0,
        new CostBreakdown(Amount.of(5), Amount.ZERO, Amount.ZERO, Amount.ZERO), Amount.of(6)));
    assertThrows(IllegalArgumentException.class, () -> new Receipt(id, id, Amount.of(10), true, 0, 0, 0,
        new CostBreakdown(Amount.of(5), Amount.ZERO, Amount.ZERO, Amount.of(1)), Amount.of(4)));
  }

  @Test
  void flippingAnyByteFailsVerification() throws Exception {
    byte[] good = run().sign(Fixtures.HOST).encode();
    Tamper.everyByteBreaks(good, bytes -> SignedReceipt.parse(bytes).verify(Fixtures.HOST.publicKey()));
  }
}
