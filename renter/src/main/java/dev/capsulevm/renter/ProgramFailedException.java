package dev.capsulevm.renter;

import dev.capsulevm.pricing.Receipt;
import java.util.List;

/**
 * The host reported that the program failed (an instruction failed, the budget ran out, the commit was
 * refused) and backed it with a receipt the renter verified: this is not misbehaviour. Nothing the
 * program staged was committed; the outputs before the failure were verified and are available.
 */
public final class ProgramFailedException extends RenterException {
  private static final long serialVersionUID = 1L;

  private final String reason;
  private final int instructionIndex;
  private final transient Receipt receipt;
  private final transient List<VerifiedOutput> outputs;

  public ProgramFailedException(String reason, int instructionIndex, String message, Receipt receipt,
      List<VerifiedOutput> outputs) {
    super("the program failed (" + reason + (instructionIndex >= 0 ? " at instruction " + instructionIndex : "")
        + "): " + message + "; cost " + receipt.finalCost().units() + " units, refund "
        + receipt.refund().units() + " units");
    this.reason = reason;
    this.instructionIndex = instructionIndex;
    this.receipt = receipt;
    this.outputs = List.copyOf(outputs);
  }

  /** The executor's reason: NOT_FOUND, BUDGET, INVALID_INPUT, REFUSED, ... */
  public String reason() {
    return reason;
  }

  /** The failing instruction, or -1 when none (the commit handshake). */
  public int instructionIndex() {
    return instructionIndex;
  }

  /** The verified receipt: what the failed program cost and what was refunded. */
  public Receipt receipt() {
    return receipt;
  }

  /** The verified outputs of the instructions before the failure. */
  public List<VerifiedOutput> outputs() {
    return outputs;
  }
}
