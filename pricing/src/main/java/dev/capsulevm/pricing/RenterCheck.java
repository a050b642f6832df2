package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import java.util.Objects;

/**
 * The renter's side of exact accounting: recompute a program's final cost from the price table, the
 * program's shape and the bytes the renter itself sent and received, and hold the host's signed receipt
 * to it unit for unit.
 */
public final class RenterCheck {
  private RenterCheck() {}

  /**
   * Verifies the host's signature and that every field of the receipt equals the renter's own figures;
   * any difference is the host's misbehaviour and is reported naming the field.
   *
   * @param bytesSent the serialized size of every message the renter sent on the program's stream
   * @param bytesReceived the serialized size of every response message it received (not the receipt)
   */
  public static Receipt check(SignedReceipt signed, PriceTable table, ProgramShape shape, Hash programId,
      Amount budget, long bytesSent, long bytesReceived) throws PricingException {
    Objects.requireNonNull(shape, "shape");
    Receipt r = signed.verify(table.hostKey());
    same("programId", r.programId(), programId);
    same("priceTableId", r.priceTableId(), table.id());
    same("budget", r.budget(), budget);
    same("uploadBytes", r.uploadBytes(), bytesSent);
    same("downloadBytes", r.downloadBytes(), bytesReceived);
    if (r.instructionsCharged() > shape.instructions().size()) {
      throw mismatch("instructionsCharged", r.instructionsCharged(), shape.instructions().size());
    }
    CostBreakdown expected = CostModel.of(table)
        .finalCost(shape, r.instructionsCharged(), bytesSent, bytesReceived, r.failed());
    same("cost.instruction", r.cost().instruction(), expected.instruction());
    same("cost.bandwidth", r.cost().bandwidth(), expected.bandwidth());
    same("cost.memory", r.cost().memory(), expected.memory());
    same("cost.storage", r.cost().storage(), expected.storage());
    same("refund", r.refund(), budget.minus(expected.total()));
    return r;
  }

  private static void same(String field, Object got, Object expected) throws PricingException {
    if (!got.equals(expected)) {
      throw mismatch(field, got, expected);
    }
  }

  private static PricingException mismatch(String field, Object got, Object expected) {
    return new PricingException(PricingException.Reason.RECEIPT_MISMATCH,
        "receipt " + field + " is " + got + ", the renter computes " + expected);
  }
}
