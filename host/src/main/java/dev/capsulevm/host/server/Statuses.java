package dev.capsulevm.host.server;

import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import io.grpc.Status;

/** The gRPC status of every refusal and failure; docs/PROTOCOL.md, section "Errors", is the table. */
final class Statuses {
  private Statuses() {}

  /** A refused withdrawal (nothing was taken). */
  static Status of(PricingException.Reason reason) {
    return switch (reason) {
      case BAD_SIGNATURE -> Status.PERMISSION_DENIED;
      case EXPIRED, NOT_YET_VALID, INSUFFICIENT_BALANCE, BALANCE_LIMIT -> Status.FAILED_PRECONDITION;
      case REPLAYED_NONCE -> Status.ALREADY_EXISTS;
      case BUDGET_EXCEEDED -> Status.RESOURCE_EXHAUSTED;
      case EXPIRY_TOO_FAR, WRONG_HOST, WRONG_PRICE_TABLE, LIMIT_EXCEEDED, PRICE_ABOVE_MAXIMUM, RECEIPT_MISMATCH ->
          Status.INVALID_ARGUMENT;
    };
  }

  /** A program that failed after its budget was taken. */
  static Status of(ProgramStoppedException.Reason reason) {
    return switch (reason) {
      case DATA, INVALID_INPUT -> Status.INVALID_ARGUMENT;
      case BUDGET -> Status.RESOURCE_EXHAUSTED;
      case NOT_FOUND -> Status.NOT_FOUND;
      case AMBIGUOUS, STORAGE -> Status.FAILED_PRECONDITION;
      case REFUSED -> Status.ABORTED;
      case EXPIRED -> Status.DEADLINE_EXCEEDED;
      case INTERRUPTED -> Status.UNAVAILABLE;
    };
  }
}
