package dev.capsulevm.renter;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SessionKey;
import dev.capsulevm.pricing.SignedWithdrawal;
import dev.capsulevm.pricing.Ticket;
import io.grpc.Status;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * How one program is paid: the bytes its header carries (a signed withdrawal, or a ticket of a payment
 * session) and, for a ticket, the budget it holds from the renter's view of its session until the program
 * ends ({@link #ended}).
 */
final class Payment {
  /**
   * The codes a host refuses a program with before admitting it (docs/PROTOCOL.md): it held nothing, so
   * the budget goes back to the session whole. Any other end without a verified receipt keeps the budget
   * counted as spent: the renter cannot know what the host charged, and undercounting the remainder only
   * renews the session sooner.
   */
  private static final Set<Status.Code> BEFORE_ADMISSION = EnumSet.of(Status.Code.RESOURCE_EXHAUSTED,
      Status.Code.UNAVAILABLE, Status.Code.FAILED_PRECONDITION, Status.Code.NOT_FOUND, Status.Code.PERMISSION_DENIED,
      Status.Code.ALREADY_EXISTS, Status.Code.INVALID_ARGUMENT, Status.Code.UNAUTHENTICATED);

  private final byte[] bytes;
  private final boolean ticket;
  private final boolean sealed;
  private final Amount budget;
  /** The session the ticket draws on; null for a withdrawal. */
  private final PaymentSessions.@Nullable Session sessionOrNull;
  private final AtomicBoolean ended = new AtomicBoolean();

  private Payment(byte[] bytes, boolean ticket, boolean sealed, Amount budget,
      PaymentSessions.@Nullable Session sessionOrNull) {
    this.bytes = bytes;
    this.ticket = ticket;
    this.sealed = sealed;
    this.budget = budget;
    this.sessionOrNull = sessionOrNull;
  }

  /** A program paid by its own signed withdrawal. */
  static Payment withdrawal(SignedWithdrawal withdrawal) {
    return new Payment(withdrawal.encode(), false, false, withdrawal.withdrawal().amount(), null);
  }

  /**
   * A program paid by {@code ticket}, whose budget {@code session} holds until the program ends; {@code
   * sealed}: its receipt is to be sealed with the session's key rather than signed.
   */
  static Payment ticket(Ticket ticket, PaymentSessions.Session session, boolean sealed) {
    return new Payment(ticket.encode(), true, sealed, ticket.budget(), session);
  }

  /**
   * Zero bytes as long as a real payment of the kind: the header built with it has the serialized size
   * of the one sent, so it sizes the estimate exactly (both kinds have a fixed length).
   */
  static Payment blank(boolean ticket, boolean sealed) {
    return new Payment(new byte[ticket ? Ticket.LENGTH : SignedWithdrawal.LENGTH], ticket, sealed, Amount.ZERO,
        null);
  }

  /** The bytes the header carries; the program id is computed over them. */
  byte[] bytesUnsafe() {
    return bytes;
  }

  /** Whether the header carries them as {@code ticket} (else as {@code signed_withdrawal}). */
  boolean isTicket() {
    return ticket;
  }

  /** Whether the header asks for the receipt sealed with the session's key ({@code seal_receipt}). */
  boolean sealsReceipt() {
    return sealed;
  }

  /** The key that seals the receipt: the session's; only for a payment that {@link #sealsReceipt}. */
  SessionKey sealKey() {
    if (!sealed) {
      throw new IllegalStateException("this program's receipt is signed, not sealed");
    }
    return Objects.requireNonNull(sessionOrNull, "a sealed payment draws on a session").key;
  }

  /**
   * The program ended: with {@code verifiedOrNull}, the receipt the renter verified (its refund goes back to
   * the session), or refused by the host before it ran with {@code refusalOrNull}, or otherwise (neither:
   * the budget stays counted as spent). Only the first call counts.
   */
  void ended(@Nullable Receipt verifiedOrNull, Status.@Nullable Code refusalOrNull) {
    PaymentSessions.Session session = sessionOrNull;
    if (session == null || !ended.compareAndSet(false, true)) {
      return;
    }
    if (verifiedOrNull != null) {
      session.settle(verifiedOrNull.refund(), null);
    } else if (refusalOrNull != null && BEFORE_ADMISSION.contains(refusalOrNull)) {
      session.settle(budget, refusalOrNull);
    } else {
      session.settle(Amount.ZERO, null);
    }
  }

  /** Nothing was sent: the whole budget goes back. */
  void abandoned() {
    PaymentSessions.Session session = sessionOrNull;
    if (session != null && ended.compareAndSet(false, true)) {
      session.settle(budget, null);
    }
  }
}
