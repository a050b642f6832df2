package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Cashier;
import dev.capsulevm.pricing.ExchangeKey;
import dev.capsulevm.pricing.ExchangeKeyPair;
import dev.capsulevm.pricing.InMemoryLedger;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.pricing.SessionGrant;
import dev.capsulevm.pricing.SessionKey;
import dev.capsulevm.pricing.SessionRequest;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.pricing.SignedSessionGrant;
import dev.capsulevm.pricing.SignedSessionRequest;
import dev.capsulevm.pricing.Ticket;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.CloseSessionResponse;
import dev.capsulevm.proto.v1.ProgramHeader;
import io.grpc.Status;
import io.grpc.StatusException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Payment sessions without gRPC: OpenSession's checks and bounds, tickets at admission (each refusal with
 * its reason, holding nothing), the counter window, CloseSession, and the sweep under a moved clock.
 */
class SessionsTest {
  private static final long DEPOSIT = 100_000_000;
  private static final long BUDGET = 1_000_000;
  private static final long AMOUNT = 10 * BUDGET;

  private final SettableClock clock = new SettableClock(Instant.parse("2030-01-01T00:00:00Z"));
  private final SigningKey hostKey = SigningKey.generate();
  private final SigningKey account = SigningKey.generate();
  private final InMemoryLedger ledger = new InMemoryLedger(clock, Amount.of(1L << 40));
  private final Reservations holds = new Reservations(ledger, clock, Duration.ofHours(1), Amount.of(1L << 40));
  private final PriceTables tables = new PriceTables(hostKey, clock, Duration.ofHours(1), PriceTables.defaultPrices(),
      new Limits(1 << 20, 100, 1 << 20, 1000, 8, Amount.of(1L << 40)));
  private final HostConfig config = HostConfig.defaults(Path.of("unused")).withClock(clock, Duration.ofHours(1));
  private final ProgramSlots slots = new ProgramSlots(0.25, n -> { });
  private final Sessions sessions = new Sessions(new HostConfig.SessionLimits(2, 3, Duration.ofMinutes(10)), clock,
      hostKey, tables, holds, () -> false);
  private final Admission admission = new Admission(tables, new Cashier(holds, hostKey.publicKey(), clock),
      new RateLimiter(1000, 1000), config, slots, sessions, () -> false);
  private final byte[] program = program(0);
  private long nonce;

  SessionsTest() throws Exception {
    ledger.deposit(account.publicKey(), Amount.of(DEPOSIT));
  }

  private static byte[] program(int offset) {
    return ProgramEncoding.encode(new Program(null, List.of(new Instruction.HasRecord(new DataRef(offset, 32))), 64));
  }

  private PriceTable table() {
    return tables.current().table();
  }

  /** A session as the renter holds it: the request, the key it derived from the grant, the session id. */
  private record Opened(SignedSessionRequest request, SessionKey key, Hash id) {
    byte[] ticket(long counter, long budget, byte[] program) {
      return Ticket.issue(key, id, counter, Amount.of(budget), program).encode();
    }
  }

  private SignedSessionRequest request(SigningKey payer, long amount, Instant expiry, ExchangeKey exchange) {
    PriceTable t = table();
    return new SessionRequest(payer.publicKey(), Amount.of(amount), ++nonce, expiry, t.id(), t.hostKey(), exchange)
        .sign(payer);
  }

  private Opened open(SigningKey payer, long amount, Instant expiry) throws Exception {
    ExchangeKeyPair mine = ExchangeKeyPair.generate();
    SignedSessionRequest request = request(payer, amount, expiry, mine.publicKey());
    SignedSessionGrant grant = sessions.open(ByteString.copyFrom(request.encode()));
    SessionGrant checked = grant.verify(hostKey.publicKey(), request.sessionId());
    return new Opened(request, SessionKey.forRenter(mine, request, checked), request.sessionId());
  }

  private Opened open() throws Exception {
    return open(account, AMOUNT, clock.instant().plusSeconds(1800));
  }

  private ProgramHeader.Builder header(byte[] program, byte[] ticket) {
    return ProgramHeader.newBuilder().setProgram(ByteString.copyFrom(program))
        .setPriceTableId(ByteString.copyFrom(table().id().toByteArray()))
        .setTicket(ByteString.copyFrom(ticket)).setDurationUnits(1);
  }

  private long spendable() {
    return holds.spendable(account.publicKey()).units();
  }

  /** Refused for {@code reason}, naming {@code named}, holding nothing more than before. */
  private Admission.Refused refused(ProgramHeader.Builder header, EndReason reason, String named) {
    long before = spendable();
    int taken = slots.running();
    int inFlight = holds.count();
    Admission.Refused refused = assertInstanceOf(Admission.Refused.class, admission.decide(header.build()));
    assertEquals(reason, refused.reason(), refused.message());
    assertTrue(refused.message().contains(named), refused.message());
    assertEquals(taken, slots.running(), "a refused program holds no slot");
    assertEquals(before, spendable(), "a refused program holds no budget");
    assertEquals(inFlight, holds.count());
    return refused;
  }

  private Admission.Admitted admitted(ProgramHeader.Builder header) {
    Admission.Decision decision = admission.decide(header.build());
    if (decision instanceof Admission.Refused r) {
      throw new AssertionError(r.reason() + ": " + r.message());
    }
    return (Admission.Admitted) decision;
  }

  /** OpenSession refused with {@code code}, naming {@code named}, with nothing held and no session open. */
  private void openRefused(Executable open, Status.Code code, String named) {
    long before = spendable();
    int openBefore = sessions.open();
    StatusException e = assertThrows(StatusException.class, open);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(String.valueOf(e.getStatus().getDescription()).contains(named), e.getStatus().getDescription());
    assertEquals(before, spendable(), "nothing held");
    assertEquals(openBefore, sessions.open(), "no session opened");
  }

  @Test
  void aTicketPaysForItsProgram_fromTheSessionsHold_andSettlesItsCost() throws Exception {
    Opened s = open();
    assertEquals(DEPOSIT - AMOUNT, spendable(), "the session holds its amount");
    assertEquals(DEPOSIT, ledger.balance(account.publicKey()).units(), "nothing written");
    byte[] ticket = s.ticket(0, BUDGET, program);
    Admission.Admitted admitted = admitted(header(program, ticket));
    assertEquals(account.publicKey(), admitted.account());
    assertEquals(Amount.of(BUDGET), admitted.payment().amount());
    assertEquals(1, slots.running(account.publicKey()));
    assertEquals(1, sessions.programsPaid());
    Receipt receipt = admitted.meter().close();
    assertEquals(ProgramEncoding.programId(program, ticket), receipt.programId());
    slots.release(account.publicKey());
    long cost = receipt.finalCost().units();
    assertTrue(cost > 0);
    assertEquals(DEPOSIT - cost, ledger.balance(account.publicKey()).units(), "the cost is written");
    assertEquals(DEPOSIT - AMOUNT, spendable(), "the rest of the budget went back to the session");
    Sessions.Session open = Objects.requireNonNull(sessions.find(s.id()));
    assertEquals(AMOUNT - cost, open.hold().remaining().units());

    // A second program of the session, then close: charged exactly the two costs, the rest released.
    byte[] other = program(32);
    Receipt second = admitted(header(other, s.ticket(1, BUDGET, other))).meter().close();
    slots.release(account.publicKey());
    CloseSessionResponse closed = sessions.close(ByteString.copyFrom(s.id().toByteArray()),
        ByteString.copyFrom(s.key().closeMac(s.id())));
    long both = cost + second.finalCost().units();
    assertEquals(2, closed.getPrograms());
    assertEquals(both, closed.getCharged());
    assertEquals(AMOUNT - both, closed.getReleased());
    assertEquals(DEPOSIT - both, ledger.balance(account.publicKey()).units());
    assertEquals(DEPOSIT - both, spendable(), "the remainder is the account's again");
    assertEquals(0, sessions.open());
    refused(header(program, s.ticket(2, BUDGET, program)), EndReason.SESSION_UNKNOWN,
        "session " + s.id() + " is not open at this host (closed, expired, or forgotten in a restart); open a new one");
    assertEquals(Status.Code.NOT_FOUND, EndReason.SESSION_UNKNOWN.code());
  }

  @Test
  void aSpentCounter_isRefusedAsAReplay_andNothingTaken() throws Exception {
    Opened s = open();
    byte[] ticket = s.ticket(7, BUDGET, program);
    admitted(header(program, ticket)).payment().release();
    slots.release(account.publicKey());
    refused(header(program, ticket), EndReason.PAYMENT_REPLAYED, "counter 7 of session " + s.id() + " was spent");
    assertEquals(Status.Code.ALREADY_EXISTS, EndReason.PAYMENT_REPLAYED.code());
    // Below the highest but inside the window: fresh once.
    admitted(header(program, s.ticket(3, BUDGET, program))).payment().release();
    slots.release(account.publicKey());
    refused(header(program, s.ticket(3, BUDGET, program)), EndReason.PAYMENT_REPLAYED, "counter 3");
  }

  @Test
  void aTamperedTicket_orOneMadeForAnotherProgram_isForged() throws Exception {
    Opened s = open();
    byte[] ticket = s.ticket(0, BUDGET, program);
    byte[] tampered = ticket.clone();
    tampered[tampered.length - 1] ^= 1;
    refused(header(program, tampered), EndReason.PAYMENT_FORGED, "its MAC is not session " + s.id() + "'s");
    byte[] raised = s.ticket(0, BUDGET, program);
    raised[Ticket.BODY_LENGTH - 1] ^= 1; // the budget, under the same MAC
    refused(header(program, raised), EndReason.PAYMENT_FORGED, "for this program");
    refused(header(program(32), ticket), EndReason.PAYMENT_FORGED, "a ticket pays only for the program");
    assertEquals(Status.Code.PERMISSION_DENIED, EndReason.PAYMENT_FORGED.code());
    // A forged ticket spends no counter: the real one is still good.
    admitted(header(program, ticket));
  }

  @Test
  void headerAndTicketChecks_nameWhatWasWrong() throws Exception {
    Opened s = open();
    refused(header(program, new byte[9]), EndReason.MALFORMED_HEADER, "header: ticket: ");
    refused(header(program, s.ticket(0, BUDGET, program)).setSignedWithdrawal(ByteString.copyFrom(new byte[5])),
        EndReason.MALFORMED_HEADER, "both signed_withdrawal and ticket are set");
    SessionKey stranger = SessionKey.forHost(ExchangeKeyPair.generate(),
        request(account, 1, clock.instant().plusSeconds(60), ExchangeKeyPair.generate().publicKey()));
    Hash nowhere = Sha256.untagged(new byte[] {1});
    refused(header(program, Ticket.issue(stranger, nowhere, 0, Amount.of(BUDGET), program).encode()),
        EndReason.SESSION_UNKNOWN, "session " + nowhere + " is not open at this host");
  }

  @Test
  void aHeaderUnderAnotherPriceTable_thanTheSessions_isInvalid() throws Exception {
    PriceTable older = table();
    clock.advance(Duration.ofMinutes(31)); // past half the window: the host signs a new table
    Hash newer = table().id();
    assertNotEquals(older.id(), newer);
    // A session under the older table, still accepted.
    ExchangeKeyPair mine = ExchangeKeyPair.generate();
    SignedSessionRequest request = new SessionRequest(account.publicKey(), Amount.of(AMOUNT), ++nonce,
        clock.instant().plusSeconds(600), older.id(), older.hostKey(), mine.publicKey()).sign(account);
    SessionGrant grant = sessions.open(ByteString.copyFrom(request.encode()))
        .verify(hostKey.publicKey(), request.sessionId());
    Opened s = new Opened(request, SessionKey.forRenter(mine, request, grant), request.sessionId());
    refused(header(program, s.ticket(0, BUDGET, program)), EndReason.PAYMENT_INVALID,
        "pays under price table " + older.id() + ", the header names " + newer);
    admitted(header(program, s.ticket(1, BUDGET, program)).setPriceTableId(
        ByteString.copyFrom(older.id().toByteArray())));
  }

  @Test
  void aBudgetOverTheSessionsRemainder_isUnpayable_andSpendsTheCounter() throws Exception {
    Opened s = open();
    Admission.Admitted first = admitted(header(program, s.ticket(0, 6 * BUDGET, program)));
    byte[] over = s.ticket(1, 5 * BUDGET, program);
    refused(header(program, over), EndReason.PAYMENT_UNPAYABLE, "INSUFFICIENT_BALANCE");
    first.payment().release();
    slots.release(account.publicKey());
    // Its MAC was authentic, so its counter is spent though the program was refused.
    refused(header(program, over), EndReason.PAYMENT_REPLAYED, "counter 1");
    admitted(header(program, s.ticket(2, 5 * BUDGET, program)));
  }

  @Test
  void aClosedSession_refusesTicketsAndCloses_andABadCloseChangesNothing() throws Exception {
    Opened s = open();
    ByteString id = ByteString.copyFrom(s.id().toByteArray());
    StatusException bad = assertThrows(StatusException.class,
        () -> sessions.close(id, ByteString.copyFrom(new byte[32])));
    assertEquals(Status.Code.PERMISSION_DENIED, bad.getStatus().getCode());
    assertTrue(bad.getStatus().getDescription().contains("the session stays open"));
    assertEquals(1, sessions.open());
    StatusException shortId = assertThrows(StatusException.class,
        () -> sessions.close(id.substring(1), ByteString.copyFrom(s.key().closeMac(s.id()))));
    assertEquals(Status.Code.INVALID_ARGUMENT, shortId.getStatus().getCode());
    assertTrue(shortId.getStatus().getDescription().contains("session_id is 31 bytes"));

    // A program in flight at the close runs on; when it ends, the remainder and its unspent budget go back.
    Admission.Admitted inFlight = admitted(header(program, s.ticket(0, BUDGET, program)));
    CloseSessionResponse closed = sessions.close(id, ByteString.copyFrom(s.key().closeMac(s.id())));
    assertEquals(0, closed.getPrograms());
    assertEquals(AMOUNT - BUDGET, closed.getReleased(), "the remainder less the budget in flight");
    assertEquals(DEPOSIT - AMOUNT, spendable(), "held until the session's last program ends");
    refused(header(program, s.ticket(1, BUDGET, program)), EndReason.SESSION_UNKNOWN, "is not open");
    long cost = inFlight.meter().close().finalCost().units();
    assertEquals(DEPOSIT - cost, spendable());
    assertEquals(DEPOSIT - cost, ledger.balance(account.publicKey()).units());

    StatusException again = assertThrows(StatusException.class,
        () -> sessions.close(id, ByteString.copyFrom(s.key().closeMac(s.id()))));
    assertEquals(Status.Code.NOT_FOUND, again.getStatus().getCode());
  }

  @Test
  void aSignedRequestOpensOneSession_evenOnceItsSessionEndedWithNothingSettled() throws Exception {
    Opened s = open(account, AMOUNT, clock.instant().plusSeconds(300));
    ByteString replay = ByteString.copyFrom(s.request().encode());
    openRefused(() -> sessions.open(replay), Status.Code.ALREADY_EXISTS, "REPLAYED_NONCE");
    sessions.close(ByteString.copyFrom(s.id().toByteArray()), ByteString.copyFrom(s.key().closeMac(s.id())));
    assertEquals(DEPOSIT, spendable(), "nothing settled: the whole amount is back, and the nonce free");
    openRefused(() -> sessions.open(replay), Status.Code.ALREADY_EXISTS, "was opened before and has ended");
    clock.advance(Duration.ofMinutes(5));
    sessions.sweep(); // forgets the ended session: its request has expired and is refused as such
    openRefused(() -> sessions.open(replay), Status.Code.FAILED_PRECONDITION, "expired");
  }

  @Test
  void anIdleSession_andAnExpiredOne_areClosedByTheSweep() throws Exception {
    Opened idle = open();
    Opened brief = open(account, AMOUNT, clock.instant().plusSeconds(300));
    assertEquals(DEPOSIT - 2 * AMOUNT, spendable());
    clock.advance(Duration.ofMinutes(4));
    admitted(header(program, brief.ticket(0, BUDGET, program))).payment().release(); // brief is not idle
    slots.release(account.publicKey());
    clock.advance(Duration.ofMinutes(1));
    sessions.sweep();
    assertEquals(1, sessions.open(), "the one past its expiry was closed");
    assertNull(sessions.find(brief.id()));
    assertEquals(DEPOSIT - AMOUNT, spendable(), "its amount is the account's again");
    clock.advance(Duration.ofMinutes(5)); // 10 minutes without a ticket
    sessions.sweep();
    assertEquals(0, sessions.open());
    assertEquals(DEPOSIT, spendable());
    refused(header(program, idle.ticket(0, BUDGET, program)), EndReason.SESSION_UNKNOWN, "is not open");
  }

  @Test
  void aStaleSession_isUnknownToATicket_beforeAnySweep() throws Exception {
    Opened s = open();
    clock.advance(Duration.ofMinutes(10));
    Admission.Refused refused = assertInstanceOf(Admission.Refused.class,
        admission.decide(header(program, s.ticket(0, BUDGET, program)).build()));
    assertEquals(EndReason.SESSION_UNKNOWN, refused.reason());
    assertEquals(0, sessions.open(), "the look-up closed it");
    assertEquals(DEPOSIT, spendable());
  }

  @Test
  void sessionsAreBounded_perAccountAndInAll() throws Exception {
    open();
    open();
    openRefused(() -> open(), Status.Code.RESOURCE_EXHAUSTED, "has 2 payment sessions open, the host's sessions.maxPerAccount");
    SigningKey other = SigningKey.generate();
    ledger.deposit(other.publicKey(), Amount.of(DEPOSIT));
    open(other, AMOUNT, clock.instant().plusSeconds(60));
    SigningKey third = SigningKey.generate();
    ledger.deposit(third.publicKey(), Amount.of(DEPOSIT));
    StatusException e = assertThrows(StatusException.class, () -> open(third, AMOUNT, clock.instant().plusSeconds(60)));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("sessions.maxOpen"), e.getStatus().getDescription());
    assertEquals(DEPOSIT, holds.spendable(third.publicKey()).units());
  }

  @Test
  void openSession_badRequests_areRefusedWithTheirStatus_holdingNothing() throws Exception {
    ExchangeKey exchange = ExchangeKeyPair.generate().publicKey();
    Instant later = clock.instant().plusSeconds(600);
    openRefused(() -> sessions.open(ByteString.copyFrom(new byte[10])), Status.Code.INVALID_ARGUMENT,
        "signed_session_request: MALFORMED_ENCODING: signed session request is 217 bytes, got 10");
    SignedSessionRequest good = request(account, AMOUNT, later, exchange);
    SignedSessionRequest forged = new SignedSessionRequest(good.request(),
        request(account, AMOUNT, later, exchange).signature());
    openRefused(() -> sessions.open(ByteString.copyFrom(forged.encode())), Status.Code.PERMISSION_DENIED,
        "BAD_SIGNATURE");
    SessionRequest r = good.request();
    SignedSessionRequest elsewhere = new SessionRequest(r.account(), r.amount(), ++nonce, r.expiry(),
        r.priceTableId(), SigningKey.generate().publicKey(), exchange).sign(account);
    openRefused(() -> sessions.open(ByteString.copyFrom(elsewhere.encode())), Status.Code.INVALID_ARGUMENT,
        "WRONG_HOST");
    SignedSessionRequest unknownTable = new SessionRequest(r.account(), r.amount(), ++nonce, r.expiry(),
        Sha256.untagged(new byte[] {2}), r.hostKey(), exchange).sign(account);
    openRefused(() -> sessions.open(ByteString.copyFrom(unknownTable.encode())), Status.Code.FAILED_PRECONDITION,
        "was not issued by this host");
    SignedSessionRequest expired = request(account, AMOUNT, clock.instant().minusSeconds(1), exchange);
    openRefused(() -> sessions.open(ByteString.copyFrom(expired.encode())), Status.Code.FAILED_PRECONDITION,
        "EXPIRED");
    SignedSessionRequest tooFar = request(account, AMOUNT, clock.instant().plus(Duration.ofHours(2)), exchange);
    openRefused(() -> sessions.open(ByteString.copyFrom(tooFar.encode())), Status.Code.INVALID_ARGUMENT,
        "EXPIRY_TOO_FAR");
    SignedSessionRequest tooMuch = request(account, DEPOSIT + 1, later, exchange);
    openRefused(() -> sessions.open(ByteString.copyFrom(tooMuch.encode())), Status.Code.FAILED_PRECONDITION,
        "INSUFFICIENT_BALANCE");
    SignedSessionRequest degenerate = request(account, AMOUNT, later, ExchangeKey.copyOf(new byte[32]));
    openRefused(() -> sessions.open(ByteString.copyFrom(degenerate.encode())), Status.Code.INVALID_ARGUMENT,
        "exchangeKey");

    sessions.open(ByteString.copyFrom(good.encode()));
    openRefused(() -> sessions.open(ByteString.copyFrom(good.encode())), Status.Code.ALREADY_EXISTS,
        "REPLAYED_NONCE");
    assertEquals(1, sessions.open());
    assertEquals(DEPOSIT - AMOUNT, spendable());

    Sessions closing = new Sessions(HostConfig.SessionLimits.DEFAULTS, clock, hostKey, tables, holds, () -> true);
    openRefused(() -> closing.open(ByteString.copyFrom(request(account, 1, later, exchange).encode())),
        Status.Code.UNAVAILABLE, "shutting down");
  }

  @Test
  void theCounterWindow_acceptsEachCounterOnce_andRefusesThoseBelowIt() {
    Sessions.CounterWindow w = new Sessions.CounterWindow();
    int size = Sessions.CounterWindow.SIZE;
    assertEquals(Sessions.CounterWindow.Use.FRESH, w.use(5));
    assertEquals(Sessions.CounterWindow.Use.SPENT, w.use(5));
    assertEquals(Sessions.CounterWindow.Use.FRESH, w.use(0), "out of order, inside the window");
    assertEquals(Sessions.CounterWindow.Use.FRESH, w.use(size + 4)); // the window is now 5 .. size + 4
    assertEquals(Sessions.CounterWindow.Use.SPENT, w.use(5), "the lowest counter in the window, remembered");
    assertEquals(Sessions.CounterWindow.Use.TOO_OLD, w.use(4));
    assertEquals(Sessions.CounterWindow.Use.FRESH, w.use(6), "skipped over, so fresh");
    assertEquals(Sessions.CounterWindow.Use.FRESH, w.use(size + 5)); // 6 .. size + 5
    assertEquals(Sessions.CounterWindow.Use.TOO_OLD, w.use(5));
    assertEquals(Sessions.CounterWindow.Use.SPENT, w.use(6));
    assertEquals(Sessions.CounterWindow.Use.SPENT, w.use(size + 4));
    assertEquals(Sessions.CounterWindow.Use.FRESH, w.use(size + 3));
    assertEquals(Sessions.CounterWindow.Use.FRESH, w.use(Long.MAX_VALUE));
    assertEquals(Sessions.CounterWindow.Use.SPENT, w.use(Long.MAX_VALUE));
    assertEquals(Sessions.CounterWindow.Use.FRESH, w.use(Long.MAX_VALUE - size + 1));
    assertEquals(Sessions.CounterWindow.Use.TOO_OLD, w.use(Long.MAX_VALUE - size));
    assertEquals(Long.MAX_VALUE, w.highest());
    Sessions.CounterWindow first = new Sessions.CounterWindow();
    assertEquals(Sessions.CounterWindow.Use.FRESH, first.use(Long.MAX_VALUE), "a first counter anywhere");
  }
}
