package dev.capsulevm.renter;

import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.proto.v1.FailureReason;
import java.util.List;

/**
 * The host reported that the program failed (an instruction failed, the budget ran out, the commit was
 * refused) and backed it with a receipt the renter verified: this is not misbehaviour. Nothing the
 * program staged was committed; the outputs before the failure were verified and are available.
 */
public final class ProgramFailedException extends RenterException {
  private static final long serialVersionUID = 1L;

  /** Why the host says the program failed; docs/PROTOCOL.md, "Errors", gives each with its gRPC status. */
  public enum Reason {
    /** Program data missing, late, malformed or over the host's buffer limit. */
    DATA,
    /** The budget could not pay for an instruction or a message. */
    BUDGET,
    /** An input did not parse or validate (metadata, records, signatures, parents). */
    INVALID_INPUT,
    /** A capsule, record, sub-record or anchor the program named is not held. */
    NOT_FOUND,
    /** A height names several records (a fork). */
    AMBIGUOUS,
    /** The host's storage refused the staged writes. */
    STORAGE,
    /** The commit was refused: by this renter, or because it closed its side without deciding. */
    REFUSED,
    /** No commit decision reached the host within its commit timeout. */
    EXPIRED,
    /** The host's program thread was interrupted (it is stopping). */
    INTERRUPTED,
    /** The host says the renter broke the stream's message order or lengths. */
    PROTOCOL,
    /** The call was cancelled. */
    CANCELLED,
    /** The host is shutting down. */
    UNAVAILABLE,
    /** The renter did not read the outputs within the host's send timeout. */
    SLOW_RENTER,
    /** A bug in the host. */
    INTERNAL,
    /**
     * A record's writer lacks the right for it among the capsule's members (the message names the key,
     * and the membership record that took the right away when there is one).
     */
    WRITER_NOT_ALLOWED,
    /**
     * A private capsule's data record is written under an epoch that is not the current one at it, or that
     * a membership record the host holds retired (the message names it): refresh the heads and rebuild.
     */
    STALE_EPOCH,
    /**
     * A reason this SDK does not know (a newer host's), or none. The failure is still backed by the
     * verified receipt, and the message says what the host meant.
     */
    UNKNOWN;

    /** The reason a {@code Failure} carries; an unknown or missing one is {@link #UNKNOWN}. */
    static Reason fromWire(FailureReason wire) {
      return switch (wire) {
        case FAILURE_REASON_DATA -> DATA;
        case FAILURE_REASON_BUDGET -> BUDGET;
        case FAILURE_REASON_INVALID_INPUT -> INVALID_INPUT;
        case FAILURE_REASON_NOT_FOUND -> NOT_FOUND;
        case FAILURE_REASON_AMBIGUOUS -> AMBIGUOUS;
        case FAILURE_REASON_STORAGE -> STORAGE;
        case FAILURE_REASON_REFUSED -> REFUSED;
        case FAILURE_REASON_EXPIRED -> EXPIRED;
        case FAILURE_REASON_INTERRUPTED -> INTERRUPTED;
        case FAILURE_REASON_PROTOCOL -> PROTOCOL;
        case FAILURE_REASON_CANCELLED -> CANCELLED;
        case FAILURE_REASON_UNAVAILABLE -> UNAVAILABLE;
        case FAILURE_REASON_SLOW_RENTER -> SLOW_RENTER;
        case FAILURE_REASON_INTERNAL -> INTERNAL;
        case FAILURE_REASON_WRITER_NOT_ALLOWED -> WRITER_NOT_ALLOWED;
        case FAILURE_REASON_STALE_EPOCH -> STALE_EPOCH;
        case FAILURE_REASON_UNSPECIFIED, UNRECOGNIZED -> UNKNOWN;
      };
    }
  }

  private final Reason reason;
  private final int instructionIndex;
  private final String failureMessage;
  private final transient Receipt receipt;
  private final transient List<VerifiedOutput> outputs;

  public ProgramFailedException(Reason reason, int instructionIndex, String message, Receipt receipt,
      List<VerifiedOutput> outputs) {
    super("the program failed (" + reason + (instructionIndex >= 0 ? " at instruction " + instructionIndex : "")
        + "): " + message + "; cost " + receipt.finalCost().units() + " units, refund "
        + receipt.refund().units() + " units");
    this.reason = reason;
    this.instructionIndex = instructionIndex;
    this.failureMessage = message;
    this.receipt = receipt;
    this.outputs = List.copyOf(outputs);
  }

  /** Why the host says the program failed. */
  public Reason reason() {
    return reason;
  }

  /** The host's message for the failure, as its receipt signs it (without the SDK's cost summary). */
  public String failureMessage() {
    return failureMessage;
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
