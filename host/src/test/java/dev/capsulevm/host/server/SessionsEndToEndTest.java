package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.ExchangeKeyPair;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SessionGrant;
import dev.capsulevm.pricing.SessionKey;
import dev.capsulevm.pricing.SessionRequest;
import dev.capsulevm.pricing.SignedSessionGrant;
import dev.capsulevm.pricing.SignedSessionRequest;
import dev.capsulevm.pricing.Ticket;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.CloseSessionRequest;
import dev.capsulevm.proto.v1.CloseSessionResponse;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.OpenSessionRequest;
import dev.capsulevm.proto.v1.ProgramHeader;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Payment sessions over real gRPC on loopback (docs/PROTOCOL.md, "Payment sessions"): OpenSession, programs
 * paid by tickets with receipts checked to the unit and naming {@code programId(program, ticket)}, the
 * ledger charged exactly the receipts' costs, CloseSession, refusals on the wire, and a restart.
 */
class SessionsEndToEndTest {
  static final long BUDGET = 50_000_000;
  static final long DEPOSIT = 1_000_000_000L;
  static final long AMOUNT = 400_000_000L;

  @TempDir
  Path dir;
  TestHost t;
  SigningKey account;
  PriceTable table;

  @BeforeEach
  void start() throws Exception {
    t = new TestHost(TestHost.config(dir));
    account = SigningKey.generate();
    t.fund(account, DEPOSIT);
    table = t.table().table();
  }

  @AfterEach
  void stop() {
    t.close();
  }

  /** A session as the renter holds it. */
  private record Opened(Hash id, SessionKey key) {
    byte[] ticket(long counter, long budget, byte[] program) {
      return Ticket.issue(key, id, counter, Amount.of(budget), program).encode();
    }

    CloseSessionRequest close() {
      return CloseSessionRequest.newBuilder().setSessionId(ByteString.copyFrom(id.toByteArray()))
          .setMac(ByteString.copyFrom(key.closeMac(id))).build();
    }
  }

  private Opened open(long amount) throws Exception {
    ExchangeKeyPair mine = ExchangeKeyPair.generate();
    SignedSessionRequest request = new SessionRequest(account.publicKey(), Amount.of(amount),
        ThreadLocalRandom.current().nextLong(), Instant.ofEpochSecond(Instant.now().getEpochSecond() + 1800),
        table.id(), table.hostKey(), mine.publicKey()).sign(account);
    SignedSessionGrant signed = SignedSessionGrant.parse(t.blocking.openSession(OpenSessionRequest.newBuilder()
        .setSignedSessionRequest(ByteString.copyFrom(request.encode())).build()).getSignedSessionGrant().toByteArray());
    SessionGrant grant = signed.verify(table.hostKey(), request.sessionId());
    return new Opened(request.sessionId(), SessionKey.forRenter(mine, request, grant));
  }

  private static ExecuteRequest header(byte[] program, PriceTable table, byte[] ticket) {
    return ExecuteRequest.newBuilder().setHeader(ProgramHeader.newBuilder()
        .setProgram(ByteString.copyFrom(program))
        .setPriceTableId(ByteString.copyFrom(table.id().toByteArray()))
        .setTicket(ByteString.copyFrom(ticket))
        .setDurationUnits(10)).build();
  }

  private Run run(TestHost host, ProgramBuilder p, byte[] ticket) throws Exception {
    TestHost.Stream s = host.open();
    s.send(header(p.encoded(), table, ticket));
    if (p.bytes().length > 0) {
      s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    }
    return TestHost.finish(s, true);
  }

  private static ProgramBuilder create(CapsuleFixture f) {
    ProgramBuilder p = new ProgramBuilder(null);
    p.add(new Instruction.CreateCapsule(p.put(f.metadata.encoded())));
    return p;
  }

  private static ProgramBuilder append(CapsuleFixture f, RecordWithBody record) {
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.AppendRecord(p.put(AppendEncoding.encode(List.of(record)))));
    return p;
  }

  private static ProgramBuilder heads(CapsuleFixture f) {
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.Heads());
    return p;
  }

  @Test
  void programsPaidByTickets_getExactReceipts_andTheLedgerIsChargedExactlyTheirCosts() throws Exception {
    Opened session = open(AMOUNT);
    CapsuleFixture f = new CapsuleFixture("sessions");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 2);
    RecordWithBody r2 = f.record(r1.hash(), "two");
    List<ProgramBuilder> programs = List.of(create(f), append(f, r1), heads(f), append(f, r2), heads(f));
    long charged = 0;
    List<Hash> ids = new ArrayList<>();
    for (int i = 0; i < programs.size(); i++) {
      ProgramBuilder p = programs.get(i);
      byte[] ticket = session.ticket(i, BUDGET, p.encoded());
      Run run = run(t, p, ticket);
      assertEquals(Status.Code.OK, run.status().getCode(), run.status().toString());
      // The renter's full check: costs, transcript, end, and the program id H(0x34 || program || ticket).
      Receipt receipt = TestHost.check(run, p, table, BUDGET, ticket);
      assertEquals(ProgramEncoding.programId(p.encoded(), ticket), receipt.programId());
      ids.add(receipt.programId());
      charged += receipt.finalCost().units();
      assertEquals(DEPOSIT - charged, t.balance(account), "program " + i + " charged its receipt's cost");
    }
    assertEquals(programs.size(), ids.stream().distinct().count(), "the two Heads programs have distinct ids");

    CloseSessionResponse closed = t.blocking.closeSession(session.close());
    assertEquals(programs.size(), closed.getPrograms());
    assertEquals(charged, closed.getCharged());
    assertEquals(AMOUNT - charged, closed.getReleased());
    assertEquals(DEPOSIT - charged, t.balance(account));

    ProgramBuilder late = heads(f);
    Run refused = run(t, late, session.ticket(programs.size(), BUDGET, late.encoded()));
    assertEquals(Status.Code.NOT_FOUND, refused.status().getCode());
    assertEquals("header: ticket: session " + session.id() + " is not open at this host (closed, expired, or"
        + " forgotten in a restart); open a new one", refused.status().getDescription());
    // The whole balance is spendable again: a withdrawal of all of it is admitted.
    long all = t.balance(account);
    Run rest = t.run(heads(f), table, account, all, 1024, true);
    assertEquals(Status.Code.OK, rest.status().getCode(), rest.status().toString());
  }

  @Test
  void refusalsOnTheWire_haveTheirStatus_andTakeNothing() throws Exception {
    Opened session = open(AMOUNT);
    CapsuleFixture f = new CapsuleFixture("refusals");
    ProgramBuilder p = create(f);
    byte[] ticket = session.ticket(0, BUDGET, p.encoded());
    Run first = run(t, p, ticket);
    assertEquals(Status.Code.OK, first.status().getCode(), first.status().toString());
    long balance = t.balance(account);

    ProgramBuilder read = heads(f);
    Run replayed = run(t, read, session.ticket(0, BUDGET, read.encoded()));
    assertEquals(Status.Code.ALREADY_EXISTS, replayed.status().getCode());
    assertTrue(replayed.status().getDescription().contains("counter 0 of session " + session.id() + " was spent"));
    Run elsewhere = run(t, read, session.ticket(1, BUDGET, p.encoded()));
    assertEquals(Status.Code.PERMISSION_DENIED, elsewhere.status().getCode());
    Run tooMuch = run(t, read, session.ticket(2, AMOUNT, read.encoded()));
    assertEquals(Status.Code.FAILED_PRECONDITION, tooMuch.status().getCode());
    assertTrue(tooMuch.status().getDescription().contains("INSUFFICIENT_BALANCE"), tooMuch.status().getDescription());
    assertEquals(balance, t.balance(account), "the refusals took nothing");

    StatusRuntimeException badMac = assertThrows(StatusRuntimeException.class,
        () -> t.blocking.closeSession(session.close().toBuilder().setMac(ByteString.copyFrom(new byte[32])).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, badMac.getStatus().getCode());
    StatusRuntimeException shortRequest = assertThrows(StatusRuntimeException.class,
        () -> t.blocking.openSession(OpenSessionRequest.newBuilder()
            .setSignedSessionRequest(ByteString.copyFrom(new byte[3])).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, shortRequest.getStatus().getCode());
    assertTrue(shortRequest.getStatus().getDescription().startsWith("signed_session_request: "));

    Run still = run(t, read, session.ticket(3, BUDGET, read.encoded()));
    assertEquals(Status.Code.OK, still.status().getCode(), "the session is still open: " + still.status());
    t.blocking.closeSession(session.close());
    StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class,
        () -> t.blocking.closeSession(session.close()));
    assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
  }

  @Test
  void aRestartForgetsSessions_chargingOnlyTheSettledPrograms() throws Exception {
    Opened session = open(AMOUNT);
    CapsuleFixture f = new CapsuleFixture("restart");
    ProgramBuilder p = create(f);
    byte[] ticket = session.ticket(0, BUDGET, p.encoded());
    Receipt receipt = TestHost.check(run(t, p, ticket), p, table, BUDGET, ticket);
    t.close();
    t = new TestHost(TestHost.config(dir));
    assertEquals(DEPOSIT - receipt.finalCost().units(), t.balance(account), "only the settled program was charged");
    ProgramBuilder read = heads(f);
    Run forgotten = run(t, read, session.ticket(1, BUDGET, read.encoded()));
    assertEquals(Status.Code.NOT_FOUND, forgotten.status().getCode());
    assertTrue(forgotten.status().getDescription().contains("forgotten in a restart"));
    Run rest = t.run(heads(f), table, account, t.balance(account), 1024, true);
    assertEquals(Status.Code.OK, rest.status().getCode(), "the session's remainder is spendable: " + rest.status());
  }
}
