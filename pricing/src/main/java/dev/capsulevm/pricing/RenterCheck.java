package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The renter's side of exact accounting: recompute a program's final cost from the price table, the
 * program's shape and the bytes the renter itself sent and received, and hold the host's signed receipt
 * to it unit for unit, and to what the renter saw served: the transcript of the outputs and the end.
 */
public final class RenterCheck {
  private RenterCheck() {}

  /**
   * What the renter itself saw of a program's run; the receipt must state exactly this.
   *
   * @param bytesSent the serialized size of every message the renter sent on the program's stream
   * @param bytesReceived the serialized size of every output's response message it received (not the end)
   * @param outputCount how many outputs it received
   * @param transcriptRoot the root of its own transcript of those outputs
   * @param end how the program ended as the host told it: the failure (instruction, reason, message) of
   *     the program's end, or the committed heads it proposed and the renter confirmed (none for a
   *     program that committed nothing)
   */
  public record Observed(long bytesSent, long bytesReceived, int outputCount, Hash transcriptRoot, Receipt.End end) {
    public Observed {
      Objects.requireNonNull(transcriptRoot, "transcriptRoot");
      Objects.requireNonNull(end, "end");
      if (bytesSent < 0 || bytesReceived < 0 || outputCount < 0) {
        throw new IllegalArgumentException("counts are never negative");
      }
    }
  }

  /**
   * Verifies the host's key and signature and that every field of the receipt equals the renter's own
   * figures; any difference is the host's misbehaviour and is reported naming the field. The receipt's
   * issuedAt is not checked here.
   *
   * @param capsuleIdOrNull the capsule the program names, or null
   */
  public static Receipt check(SignedReceipt signed, PriceTable table, ProgramShape shape, Hash programId,
      @Nullable Hash capsuleIdOrNull, Amount budget, Observed observed) throws PricingException {
    return check(signed.verify(table.hostKey()), table, shape, programId, capsuleIdOrNull, budget, observed);
  }

  /**
   * Checks a receipt sealed with {@code sessionKey} (the session's key and the host's, {@link
   * SealedReceipt#open}) as {@link #check(SignedReceipt, PriceTable, ProgramShape, Hash, Hash, Amount,
   * Observed)} checks a signed one.
   */
  public static Receipt check(SealedReceipt sealed, SessionKey sessionKey, PriceTable table, ProgramShape shape,
      Hash programId, @Nullable Hash capsuleIdOrNull, Amount budget, Observed observed) throws PricingException {
    return check(sealed.open(sessionKey, table.hostKey()), table, shape, programId, capsuleIdOrNull, budget,
        observed);
  }

  private static Receipt check(Receipt r, PriceTable table, ProgramShape shape, Hash programId,
      @Nullable Hash capsuleIdOrNull, Amount budget, Observed observed) throws PricingException {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(observed, "observed");
    same("programId", r.programId(), programId);
    same("priceTableId", r.priceTableId(), table.id());
    same("capsuleId", Objects.toString(r.capsuleIdOrNull(), "none"), Objects.toString(capsuleIdOrNull, "none"));
    same("budget", r.budget(), budget);
    same("uploadBytes", r.uploadBytes(), observed.bytesSent());
    same("downloadBytes", r.downloadBytes(), observed.bytesReceived());
    if (r.instructionsCharged() > shape.instructions().size()) {
      throw mismatch("instructionsCharged", r.instructionsCharged(), shape.instructions().size());
    }
    same("outputCount", r.outputCount(), observed.outputCount());
    same("transcriptRoot", r.transcriptRoot(), observed.transcriptRoot());
    Receipt.End end = observed.end();
    same("status", r.failed() ? "failed" : "completed", end instanceof Receipt.Failed ? "failed" : "completed");
    if (end instanceof Receipt.Failed f) {
      same("failedInstruction", r.failedInstruction(), f.instruction());
      same("failureReason", r.failureReason(), f.reason());
      same("failureMessage", r.failureMessage(), f.message());
    } else {
      same("committedHeads", r.committedHeads(), ((Receipt.Completed) end).committedHeads());
    }
    CostBreakdown expected = CostModel.of(table).finalCost(shape, r.instructionsCharged(), observed.bytesSent(),
        observed.bytesReceived(), r.failed());
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
        "receipt " + field + " is " + got + ", the renter expects " + expected);
  }
}
