package dev.capsulevm.host.server;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.BudgetExceededException;
import dev.capsulevm.pricing.Cashier;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.SessionKey;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.pricing.SignedWithdrawal;
import dev.capsulevm.pricing.Ticket;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramDecoder;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.program.ProgramException;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.v1.ProgramHeader;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the host decides about a program from its header, before it runs: the price table, the
 * program's encoding and limits, a free slot on the host, the payment (a signed
 * withdrawal, or a ticket of a payment session, {@link Sessions}), the account's slot ({@link
 * ProgramSlots}: its cap and its fair share), the account's rate and the program's start charge, in the
 * order docs/PROTOCOL.md ("The Execute stream", step 1, and "Payment sessions") gives. It knows nothing of gRPC: the decision is
 * a value, so each refusal can be tested by calling {@link #decide} directly.
 *
 * <p>An admitted program holds its account's slot and its budget ({@link Reservation}: held in memory,
 * nothing written), in a meter opened with the start charged; from then on every end of its call settles
 * that meter exactly once (writing the program's cost) and gives the slot back. A refused one holds
 * nothing: whatever admission took on the way (a slot, the budget's hold) it gave back before answering,
 * and nothing was written, so the withdrawal was not charged (a ticket's counter, once its MAC is
 * authentic, is spent even so).
 */
final class Admission {
  private static final Logger log = LoggerFactory.getLogger(Admission.class);

  sealed interface Decision permits Admitted, Refused {}

  /**
   * The program may run: it holds a slot of {@code account}, its budget ({@code payment}, held until the
   * program settles) and a {@code meter} over that budget; {@code sealKeyOrNull} is its payment session's
   * key when the renter asked for its receipt sealed with it ({@code seal_receipt}), else null (signed).
   */
  record Admitted(Program program, PriceTable table, PublicKey account, Reservation payment, Meter meter,
      List<Hash> statedHeads, @Nullable SessionKey sealKeyOrNull) implements Decision {
    Admitted {
      statedHeads = List.copyOf(statedHeads);
    }

    /** Whether the renter stated the heads the program must leave, so the host commits without asking. */
    boolean headsStated() {
      return !statedHeads.isEmpty();
    }
  }

  /** The program may not run, and why; nothing is held. */
  record Refused(EndReason reason, String message) implements Decision {}

  private final PriceTables tables;
  private final Cashier cashier;
  private final RateLimiter rate;
  private final HostConfig config;
  private final ProgramSlots slots;
  private final BooleanSupplier closing;
  private final Sessions sessions;

  Admission(PriceTables tables, Cashier cashier, RateLimiter rate, HostConfig config, ProgramSlots slots,
      Sessions sessions, BooleanSupplier closing) {
    this.sessions = sessions;
    this.tables = tables;
    this.cashier = cashier;
    this.rate = rate;
    this.config = config;
    this.slots = slots;
    this.closing = closing;
  }

  Decision decide(ProgramHeader header) {
    if (closing.getAsBoolean()) {
      return new Refused(EndReason.SHUTTING_DOWN, "the host is shutting down");
    }
    if (header.getPriceTableId().size() != Hash.LENGTH) {
      return new Refused(EndReason.MALFORMED_HEADER, "header: price_table_id is " + header.getPriceTableId().size()
          + " bytes, a price table id is " + Hash.LENGTH);
    }
    Hash tableId = Hash.copyOf(header.getPriceTableId().toByteArray());
    StringBuilder why = new StringBuilder();
    SignedPriceTable signedTable = tables.acceptable(tableId, why);
    if (signedTable == null) {
      return new Refused(EndReason.PRICE_TABLE_UNACCEPTABLE, "header: " + why);
    }
    PriceTable table = signedTable.table();
    byte[] programBytes = header.getProgram().toByteArray();
    Program program;
    try {
      program = new ProgramDecoder(table.limits()).decode(programBytes);
    } catch (ProgramException e) {
      return new Refused(EndReason.MALFORMED_HEADER, "header: program: " + e.reason() + ": " + e.getMessage());
    }
    List<Hash> statedHeads;
    try {
      statedHeads = statedHeads(header, program);
    } catch (IllegalArgumentException e) {
      return new Refused(EndReason.MALFORMED_HEADER, "header: expected_heads: " + e.getMessage());
    }
    long durationUnits = header.getDurationUnits();
    if (durationUnits < 0) {
      return new Refused(EndReason.MALFORMED_HEADER, "header: duration_units "
          + Long.toUnsignedString(durationUnits) + " is above 2^63 - 1");
    }
    // The current table's limit, not the header's: an operator lowering it takes effect at once.
    int limit = tables.limits().maxConcurrentPrograms();
    boolean byWithdrawal = !header.getSignedWithdrawal().isEmpty();
    boolean byTicket = !header.getTicket().isEmpty();
    if (byWithdrawal == byTicket) {
      return new Refused(EndReason.MALFORMED_HEADER, "header: " + (byTicket
          ? "both signed_withdrawal and ticket are set" : "signed_withdrawal and ticket are both empty")
          + ": exactly one of them pays for the program");
    }
    if (header.getSealReceipt() && !byTicket) {
      return new Refused(EndReason.MALFORMED_HEADER, "header: seal_receipt is set on a program paid by a"
          + " signed_withdrawal: only a payment session's key can seal a receipt (pay by ticket, or ask for none)");
    }
    if (byTicket) {
      return payByTicket(header.getTicket().toByteArray(), table, tableId, program, programBytes, durationUnits,
          limit, statedHeads, header.getSealReceipt());
    }
    byte[] withdrawalBytes = header.getSignedWithdrawal().toByteArray();
    SignedWithdrawal withdrawal;
    try {
      withdrawal = SignedWithdrawal.parse(withdrawalBytes);
    } catch (VerificationException e) {
      return new Refused(EndReason.MALFORMED_HEADER, "header: signed_withdrawal: " + e.getMessage());
    }
    // Checked for the claimed account before any signature is verified or the ledger touched, so a
    // flood of refused headers costs the host little; checked again when the slot is taken below.
    PublicKey claimed = withdrawal.withdrawal().account();
    ProgramSlots.Grant grant = slots.check(claimed, limit, config.maxProgramsPerAccount());
    if (grant != ProgramSlots.Grant.TAKEN) {
      return refusal(grant, claimed, limit, "; nothing was taken");
    }
    // Verifies the withdrawal (host, table, expiry, signature) once, then holds the budget atomically.
    return pay(table, program, programBytes, new Payment("signed_withdrawal", withdrawalBytes,
        () -> cashier.accept(withdrawal, tableId), () -> false, null), durationUnits, limit, statedHeads);
  }

  /**
   * A program paid from a payment session ({@link Sessions}): the session open, under the header's price
   * table; the account's slot checked; the ticket's MAC authentic for this program; its counter spent
   * (here, once the MAC is authentic, whether or not the program is then admitted: a refused program's
   * renter makes a new ticket); then its budget held from the session's remainder and the rest as for a
   * withdrawal.
   */
  private Decision payByTicket(byte[] ticketBytes, PriceTable table, Hash tableId, Program program,
      byte[] programBytes, long durationUnits, int limit, List<Hash> statedHeads, boolean sealReceipt) {
    Ticket ticket;
    try {
      ticket = Ticket.parse(ticketBytes);
    } catch (VerificationException e) {
      return new Refused(EndReason.MALFORMED_HEADER, "header: ticket: " + e.getMessage());
    }
    Sessions.Session session = sessions.find(ticket.sessionId());
    if (session == null) {
      return new Refused(EndReason.SESSION_UNKNOWN, "header: ticket: " + Sessions.notOpen(ticket.sessionId()));
    }
    if (!session.priceTableId().equals(tableId)) {
      return new Refused(EndReason.PAYMENT_INVALID, "header: ticket: session " + session.id()
          + " pays under price table " + session.priceTableId() + ", the header names " + tableId
          + "; nothing was taken");
    }
    PublicKey account = session.account();
    // Before the MAC is checked, as a withdrawal's slot is before its signature.
    ProgramSlots.Grant grant = slots.check(account, limit, config.maxProgramsPerAccount());
    if (grant != ProgramSlots.Grant.TAKEN) {
      return refusal(grant, account, limit, "; nothing was taken and the ticket is unspent");
    }
    if (!ticket.authentic(session.key(), programBytes)) {
      return new Refused(EndReason.PAYMENT_FORGED, "header: ticket: its MAC is not session " + session.id()
          + "'s for this program (a ticket pays only for the program encoding it was made for); nothing was taken");
    }
    switch (session.spend(ticket.counter(), config.clock().instant())) {
      case SPENT -> {
        return new Refused(EndReason.PAYMENT_REPLAYED, "header: ticket: counter " + ticket.counter()
            + " of session " + session.id() + " was spent already; nothing was taken");
      }
      case TOO_OLD -> {
        return new Refused(EndReason.PAYMENT_REPLAYED, "header: ticket: counter " + ticket.counter()
            + " of session " + session.id() + " is " + Sessions.CounterWindow.SIZE
            + " or more below the highest spent (" + session.highestCounter()
            + "), and the host remembers only that many; nothing was taken");
      }
      case FRESH -> { }
    }
    Decision decision = pay(table, program, programBytes, new Payment("ticket", ticketBytes,
        () -> session.hold().reserve(ticket.budget()), () -> session.hold().isClosed(),
        sealReceipt ? session.key() : null), durationUnits, limit, statedHeads);
    if (decision instanceof Admitted) {
      sessions.paid();
    }
    return decision;
  }

  /** The heads the renter states its read-write program leaves: 32 bytes each, ascending; none is allowed. */
  private static List<Hash> statedHeads(ProgramHeader header, Program program) {
    int n = header.getExpectedHeadsCount();
    if (n == 0) {
      return List.of();
    }
    if (program.isReadOnly()) {
      throw new IllegalArgumentException(n + " heads for a read-only program, which commits nothing");
    }
    List<Hash> heads = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ByteString head = header.getExpectedHeads(i);
      if (head.size() != Hash.LENGTH) {
        throw new IllegalArgumentException("head " + i + " is " + head.size() + " bytes, a head is " + Hash.LENGTH);
      }
      Hash hash = Hash.copyOf(head.toByteArray());
      if (i > 0 && heads.get(i - 1).compareTo(hash) >= 0) {
        throw new IllegalArgumentException("head " + i + " is not above head " + (i - 1)
            + ": heads are sorted ascending and distinct");
      }
      heads.add(hash);
    }
    return heads;
  }

  /** Why {@code account} gets no slot, then {@code taken} (what happened to its payment). */
  private Refused refusal(ProgramSlots.Grant grant, PublicKey account, int limit, String taken) {
    return switch (grant) {
      case ACCOUNT_FULL -> new Refused(EndReason.ACCOUNT_BUSY, "account " + account + " runs "
          + config.maxProgramsPerAccount() + " programs, the host's maxProgramsPerAccount" + taken
          + "; retry when one of them ends");
      case RESERVED -> new Refused(EndReason.BUSY, "the host runs " + slots.running() + " of its " + limit
          + " programs (maxConcurrentPrograms) and keeps the last " + slots.reserve(limit)
          + " for accounts running none; account " + account + " runs " + slots.running(account) + taken
          + "; retry later");
      default -> new Refused(EndReason.BUSY, "the host runs " + limit + " programs, its maxConcurrentPrograms"
          + taken + "; retry later");
    };
  }

  /**
   * How a program pays: the header field ({@code field}) and its bytes, which the program id hashes, and
   * how its budget is held; {@code sessionEnded} says whether a refusal came from a payment session that
   * ended meanwhile; {@code sealKeyOrNull} seals the receipt when the renter asked for that.
   */
  private static final class Payment {
    final String field;
    final byte[] bytes;
    final Reserve reserve;
    final BooleanSupplier sessionEnded;
    final @Nullable SessionKey sealKeyOrNull;

    Payment(String field, byte[] bytes, Reserve reserve, BooleanSupplier sessionEnded,
        @Nullable SessionKey sealKeyOrNull) {
      this.field = field;
      this.bytes = bytes;
      this.reserve = reserve;
      this.sessionEnded = sessionEnded;
      this.sealKeyOrNull = sealKeyOrNull;
    }
  }

  private interface Reserve {
    Reservation hold() throws PricingException;
  }

  /** Holds the budget, then takes the account's slot, and opens the meter; a refusal gives back both. */
  private Decision pay(PriceTable table, Program program, byte[] programBytes, Payment how, long durationUnits,
      int limit, List<Hash> statedHeads) {
    Reservation payment;
    try {
      // In memory only, so nothing is written until the program ends.
      payment = how.reserve.hold();
    } catch (PricingException e) {
      if (how.sessionEnded.getAsBoolean()) {
        return new Refused(EndReason.SESSION_UNKNOWN, "header: " + how.field + ": " + e.getMessage()
            + "; open a new session");
      }
      return new Refused(EndReason.of(e.reason()), "header: " + how.field + ": " + e.getMessage());
    }
    PublicKey account = payment.account();
    Hash programId = ProgramEncoding.programId(programBytes, how.bytes);
    // Both checked after the signature verified, so nobody can spend another account's slots or tokens.
    ProgramSlots.Grant grant = slots.take(account, limit, config.maxProgramsPerAccount());
    if (grant != ProgramSlots.Grant.TAKEN) {
      // Another program of the host took the slot since the check above.
      payment.release();
      return refusal(grant, account, limit, "; nothing was taken");
    }
    if (!rate.tryAcquire(account)) {
      slots.release(account);
      payment.release();
      return new Refused(EndReason.RATE_EXCEEDED, "account " + account + " starts programs faster than "
          + config.programsPerSecondPerAccount() + " per second (burst " + config.programBurstPerAccount()
          + "); nothing was taken; retry later");
    }
    Meter meter;
    try {
      // The receipt names the program's capsule and is dated by the host's clock; the program's end settles
      // its cost in the ledger (in the same transaction as its records) before the receipt leaves.
      meter = Meter.open(table, programId, program.capsuleIdOrNull(), payment.amount(), programBytes.length,
          durationUnits, cashier.refunderFor(payment), config.clock());
    } catch (BudgetExceededException e) {
      slots.release(account);
      payment.release();
      return new Refused(EndReason.BUDGET_BELOW_START, "budget: " + e.getMessage() + "; nothing was taken");
    }
    log.debug("program {} from {}: {} instructions, {} data bytes, budget {}", programId, account,
        program.instructions().size(), program.dataLength(), payment.amount());
    return new Admitted(program, table, account, payment, meter, statedHeads, how.sealKeyOrNull);
  }
}
