package dev.capsulevm.host.server;

import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import io.grpc.Status;
import io.grpc.Status.Code;
import org.jspecify.annotations.Nullable;

/**
 * Why an Execute call ends other than well, each with the one gRPC status it goes with: the host's only
 * table from reasons to statuses (docs/PROTOCOL.md, "Errors", is the same table in prose).
 *
 * <p>Before its program is admitted a call ends with the status alone, and nothing was taken; the refusals
 * below exist only there. From admission on the budget is held and the call is settled: {@code ProgramEnd}
 * carries the receipt and {@code Failure.reason}, the wire reason of the constant, then the status follows.
 * The stream's reasons ({@link #PROTOCOL}, {@link #CANCELLED}, {@link #INTERNAL}) can happen before the
 * header too; then only their status is sent. The Admin service's {@code Fund} uses the payment refusals.
 */
enum EndReason {
  // ---- refusals: before admission, nothing taken, never settled

  /** A header field that does not parse or is out of range. */
  MALFORMED_HEADER(Code.INVALID_ARGUMENT),
  /** The header names a price table this host did not issue, or whose window has ended. */
  PRICE_TABLE_UNACCEPTABLE(Code.FAILED_PRECONDITION),
  /** The host is shutting down. */
  SHUTTING_DOWN(Code.UNAVAILABLE),
  /**
   * The host runs its {@code maxConcurrentPrograms} already, or only the slots it keeps for accounts
   * running nothing are free and this account runs something.
   */
  BUSY(Code.RESOURCE_EXHAUSTED),
  /** The account runs the host's {@code maxProgramsPerAccount} already; the budget's hold went back at once. */
  ACCOUNT_BUSY(Code.RESOURCE_EXHAUSTED),
  /** The account starts programs faster than its rate; the budget's hold went back at once. */
  RATE_EXCEEDED(Code.RESOURCE_EXHAUSTED),
  /** The budget cannot pay the program's start; its hold went back at once. */
  BUDGET_BELOW_START(Code.RESOURCE_EXHAUSTED),
  /**
   * The budgets the host holds for programs whose charge is not written yet would pass its
   * {@code maxUncommittedRisk}; retry once some end.
   */
  RISK_FULL(Code.RESOURCE_EXHAUSTED),
  /** A payment for another host or table, expiring too far ahead, or over a limit. */
  PAYMENT_INVALID(Code.INVALID_ARGUMENT),
  /** A payment whose signature does not verify. */
  PAYMENT_FORGED(Code.PERMISSION_DENIED),
  /** A payment expired or not yet valid, a balance too low, or a deposit over the balance limit. */
  PAYMENT_UNPAYABLE(Code.FAILED_PRECONDITION),
  /** A withdrawal or session request whose nonce was used, or a ticket whose counter was. */
  PAYMENT_REPLAYED(Code.ALREADY_EXISTS),
  /**
   * A ticket's payment session is not open at this host: closed, expired, idle too long, or forgotten in a
   * restart. The renter opens a new one.
   */
  SESSION_UNKNOWN(Code.NOT_FOUND),
  /**
   * The program ended but the host could not write its charge (the store refused or failed the
   * settlement): nothing was charged, and no receipt is sent, since a receipt states a charge the ledger
   * holds. The status alone, like a refusal,
   * though it comes at the end.
   */
  UNSETTLED(Code.UNAVAILABLE),

  // ---- failures: settled once admitted

  /** Program data missing, malformed, or over the buffer limit; or the renter closed before sending it all. */
  DATA(Code.INVALID_ARGUMENT, FailureReason.FAILURE_REASON_DATA),
  /**
   * The renter stalled its upload: no data message within {@code firstDataTimeout} of the header or
   * {@code dataTimeout} of the previous one while the host waited for it, or an instruction's data not
   * within {@code dataTimeout}.
   */
  DATA_LATE(Code.DEADLINE_EXCEEDED, FailureReason.FAILURE_REASON_DATA),
  /** The budget cannot pay a message, an instruction or an output. */
  BUDGET(Code.RESOURCE_EXHAUSTED, FailureReason.FAILURE_REASON_BUDGET),
  INVALID_INPUT(Code.INVALID_ARGUMENT, FailureReason.FAILURE_REASON_INVALID_INPUT),
  NOT_FOUND(Code.NOT_FOUND, FailureReason.FAILURE_REASON_NOT_FOUND),
  AMBIGUOUS(Code.FAILED_PRECONDITION, FailureReason.FAILURE_REASON_AMBIGUOUS),
  STORAGE(Code.FAILED_PRECONDITION, FailureReason.FAILURE_REASON_STORAGE),
  /** The renter refused the commit, or closed its side without deciding. */
  REFUSED(Code.ABORTED, FailureReason.FAILURE_REASON_REFUSED),
  /** No decision within {@code commitTimeout}. */
  EXPIRED(Code.DEADLINE_EXCEEDED, FailureReason.FAILURE_REASON_EXPIRED),
  INTERRUPTED(Code.UNAVAILABLE, FailureReason.FAILURE_REASON_INTERRUPTED),
  /** The renter broke the message order or the declared data length. */
  PROTOCOL(Code.INVALID_ARGUMENT, FailureReason.FAILURE_REASON_PROTOCOL),
  /** A CommitDecision before the CommitProposal (a read-only program never gets one). */
  DECISION_TOO_EARLY(Code.FAILED_PRECONDITION, FailureReason.FAILURE_REASON_PROTOCOL),
  CANCELLED(Code.CANCELLED, FailureReason.FAILURE_REASON_CANCELLED),
  /** The host shuts down with the program in flight. */
  UNAVAILABLE(Code.UNAVAILABLE, FailureReason.FAILURE_REASON_UNAVAILABLE),
  /** The renter did not read the outputs within {@code sendTimeout}. */
  SLOW_RENTER(Code.DEADLINE_EXCEEDED, FailureReason.FAILURE_REASON_SLOW_RENTER),
  /** A bug in the host. */
  INTERNAL(Code.INTERNAL, FailureReason.FAILURE_REASON_INTERNAL),
  /** A record's writer lacks the right for it among a version-2 capsule's members. */
  WRITER_NOT_ALLOWED(Code.PERMISSION_DENIED, FailureReason.FAILURE_REASON_WRITER_NOT_ALLOWED),
  /**
   * A private capsule's data record is written under an epoch that is not the current one at it, or that a
   * membership record the host holds retired: the writer refreshes its heads and rebuilds.
   */
  STALE_EPOCH(Code.FAILED_PRECONDITION, FailureReason.FAILURE_REASON_STALE_EPOCH);

  private final Code code;
  private final FailureReason wire;

  EndReason(Code code) {
    this(code, FailureReason.FAILURE_REASON_UNSPECIFIED);
  }

  EndReason(Code code, FailureReason wire) {
    this.code = code;
    this.wire = wire;
  }

  Code code() {
    return code;
  }

  /** The reason {@code Failure} carries when the call is settled; UNSPECIFIED for a refusal, never sent. */
  FailureReason wire() {
    return wire;
  }

  /**
   * The failure reason a receipt states for this end: its wire number; INTERNAL's for a refusal, which
   * holds no budget and so never settles a meter (a bug if it ever does).
   */
  int receiptReason() {
    return (wire == FailureReason.FAILURE_REASON_UNSPECIFIED ? INTERNAL.wire : wire).getNumber();
  }

  Status status(@Nullable String message) {
    return Status.fromCode(code).withDescription(message);
  }

  /** Why the executor stopped a program. */
  static EndReason of(ProgramStoppedException.Reason reason) {
    return switch (reason) {
      case DATA -> DATA;
      case BUDGET -> BUDGET;
      case INVALID_INPUT -> INVALID_INPUT;
      case NOT_FOUND -> NOT_FOUND;
      case AMBIGUOUS -> AMBIGUOUS;
      case STORAGE -> STORAGE;
      case REFUSED -> REFUSED;
      case EXPIRED -> EXPIRED;
      case INTERRUPTED -> INTERRUPTED;
      case WRITER_NOT_ALLOWED -> WRITER_NOT_ALLOWED;
      case STALE_EPOCH -> STALE_EPOCH;
    };
  }

  /**
   * The settled reason whose wire number is {@code number} (a receipt's failure reason): the first listed
   * with it (DATA for 1, PROTOCOL for 10), INTERNAL for a number this host never states.
   */
  static EndReason ofWire(int number) {
    for (EndReason reason : values()) {
      if (reason.wire != FailureReason.FAILURE_REASON_UNSPECIFIED && reason.wire.getNumber() == number) {
        return reason;
      }
    }
    return INTERNAL;
  }

  /** Why pricing refused a payment (nothing was taken). */
  static EndReason of(PricingException.Reason reason) {
    return switch (reason) {
      case BAD_SIGNATURE -> PAYMENT_FORGED;
      case EXPIRED, NOT_YET_VALID, INSUFFICIENT_BALANCE, BALANCE_LIMIT -> PAYMENT_UNPAYABLE;
      case REPLAYED_NONCE -> PAYMENT_REPLAYED;
      case BUDGET_EXCEEDED -> BUDGET_BELOW_START;
      case UNCOMMITTED_RISK -> RISK_FULL;
      case EXPIRY_TOO_FAR, WRONG_HOST, WRONG_PRICE_TABLE, LIMIT_EXCEEDED, PRICE_ABOVE_MAXIMUM, RECEIPT_MISMATCH ->
          PAYMENT_INVALID;
    };
  }
}
