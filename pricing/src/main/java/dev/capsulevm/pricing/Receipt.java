package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The host's statement of what a program cost: the program and price table it ran under, its budget,
 * whether it failed, what was charged and exchanged, the final cost by part and the refund, which
 * together always add up to the budget.
 */
public record Receipt(
    Hash programId,
    Hash priceTableId,
    Amount budget,
    boolean failed,
    int instructionsCharged,
    long uploadBytes,
    long downloadBytes,
    CostBreakdown cost,
    Amount refund) {

  static final int VERSION = 1;
  /** The length of the canonical body. */
  public static final int BODY_LENGTH = 1 + 32 + 32 + 8 + 1 + 4 + 8 + 8 + 4 * 8 + 8;

  public Receipt {
    Objects.requireNonNull(programId, "programId");
    Objects.requireNonNull(priceTableId, "priceTableId");
    Objects.requireNonNull(budget, "budget");
    Objects.requireNonNull(cost, "cost");
    Objects.requireNonNull(refund, "refund");
    if (instructionsCharged < 0 || uploadBytes < 0 || downloadBytes < 0) {
      throw new IllegalArgumentException("counts are never negative");
    }
    if (failed && !cost.storage().isZero()) {
      throw new IllegalArgumentException("a failed program's storage part is refunded, got " + cost.storage());
    }
    if (!cost.total().plus(refund).equals(budget)) {
      throw new IllegalArgumentException("cost " + cost.total().units() + " + refund " + refund.units()
          + " units is not the budget " + budget.units());
    }
  }

  /** What the program finally cost. */
  public Amount finalCost() {
    return cost.total();
  }

  /** The canonical body: the bytes the host signs. */
  public byte[] body() {
    ByteBuffer out = ByteBuffer.allocate(BODY_LENGTH);
    out.put((byte) VERSION);
    Codec.putHash(out, programId);
    Codec.putHash(out, priceTableId);
    Codec.putAmount(out, budget);
    out.put((byte) (failed ? 1 : 0));
    out.putInt(instructionsCharged);
    out.putLong(uploadBytes);
    out.putLong(downloadBytes);
    Codec.putAmount(out, cost.instruction());
    Codec.putAmount(out, cost.bandwidth());
    Codec.putAmount(out, cost.memory());
    Codec.putAmount(out, cost.storage());
    Codec.putAmount(out, refund);
    return out.array();
  }

  /** Signs the body with the host's key. */
  public SignedReceipt sign(SigningKey hostSigningKey) {
    return new SignedReceipt(this, hostSigningKey.sign(Domain.RECEIPT_SIGNATURE, body()));
  }

  /** Parses exactly one canonical body. */
  public static Receipt parseBody(byte[] body) throws VerificationException {
    Codec.Reader in = new Codec.Reader(body, BODY_LENGTH, "receipt body");
    in.version(VERSION);
    Hash programId = in.hash();
    Hash tableId = in.hash();
    Amount budget = in.amount("budget");
    int status = in.u8();
    if (status > 1) {
      throw Codec.malformed("receipt status " + status + " is neither 0 (completed) nor 1 (failed)");
    }
    int count = in.nonNegativeInt("instructionsCharged");
    long up = in.nonNegativeLong("uploadBytes");
    long down = in.nonNegativeLong("downloadBytes");
    CostBreakdown cost = new CostBreakdown(in.amount("instruction"), in.amount("bandwidth"),
        in.amount("memory"), in.amount("storage"));
    Amount refund = in.amount("refund");
    in.finish();
    try {
      return new Receipt(programId, tableId, budget, status == 1, count, up, down, cost, refund);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw Codec.malformed("receipt body: " + e.getMessage());
    }
  }
}
