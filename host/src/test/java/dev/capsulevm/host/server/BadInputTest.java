package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.host.server.TestHost.Stream;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.proto.v1.StatusRequest;
import dev.capsulevm.testing.Await;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input through raw stubs: each gets its documented status (docs/PROTOCOL.md, "Errors"), the
 * budget is refunded as documented, and the host keeps serving. Every failure after the budget was taken
 * ends with a {@code Failure} that says exactly what the signed receipt says ({@link TestHost#failure}).
 */
class BadInputTest {
  static final long BUDGET = 50_000_000;

  @TempDir
  Path dir;
  TestHost t;
  SigningKey account;
  PriceTable table;
  CapsuleFixture f;
  RecordWithBody r1;

  @BeforeEach
  void start() throws Exception {
    t = new TestHost(TestHost.config(dir).withTimeouts(java.time.Duration.ofSeconds(5),
        java.time.Duration.ofSeconds(2), java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(2)));
    account = SigningKey.generate();
    t.fund(account, 1_000_000_000L);
    table = t.table().table();
    f = new CapsuleFixture("bad");
    r1 = f.record(List.of(f.id()), "one", 2);
    ProgramBuilder create = new ProgramBuilder(f.id());
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    create.add(new Instruction.AppendRecord(create.put(AppendEncoding.encode(List.of(r1)))));
    assertEquals(Status.Code.OK, t.run(create, table, account, BUDGET, 1 << 20, true).status().getCode());
  }

  @AfterEach
  void stop() throws Exception {
    stillServing();
    t.close();
  }

  /** A read-only program still runs. */
  void stillServing() throws Exception {
    ProgramBuilder heads = new ProgramBuilder(f.id());
    heads.add(new Instruction.Heads());
    Run run = t.run(heads, table, account, BUDGET, 1024, true);
    assertEquals(Status.Code.OK, run.status().getCode(), run.status().toString());
  }

  ProgramBuilder headsProgram() {
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.HasRecord(p.put(r1.hash())));
    p.add(new Instruction.Heads());
    return p;
  }

  /** The receipt of a run that failed, checked to state what its Failure and status say. */
  Receipt failure(Run run) throws Exception {
    return TestHost.failure(run.end(), run.status(), table.hostKey());
  }

  /** Sends a header alone and returns the status the host ends with (no budget was taken). */
  Status rejected(ExecuteRequest header) throws Exception {
    long before = t.balance(account);
    Stream s = t.open();
    s.send(header);
    Object first = s.next();
    assertTrue(first instanceof Status, "refused before any response, got " + first);
    assertEquals(before, t.balance(account), "nothing taken");
    return (Status) first;
  }

  @Test
  void malformedHeaderIsInvalidArgument() throws Exception {
    byte[] garbage = {9, 9, 9};
    Status s = rejected(TestHost.header(garbage, table, TestHost.withdrawal(account, table, BUDGET), 1));
    assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
    assertTrue(s.getDescription().contains("program"), s.getDescription());

    Status w = rejected(TestHost.header(headsProgram().encoded(), table, new byte[5], 1));
    assertEquals(Status.Code.INVALID_ARGUMENT, w.getCode());
    assertTrue(w.getDescription().contains("signed_withdrawal"), w.getDescription());

    Stream data = t.open();
    data.send(TestHost.data(new byte[4], 0, 4));
    Status d = data.status();
    assertEquals(Status.Code.INVALID_ARGUMENT, d.getCode());
    assertTrue(d.getDescription().contains("before the ProgramHeader"), d.getDescription());
  }

  @Test
  void programOverTheLimitsIsInvalidArgument() throws Exception {
    ProgramBuilder big = new ProgramBuilder(f.id());
    for (int i = 0; i < table.limits().maxInstructions() + 1; i++) {
      big.add(new Instruction.Heads());
    }
    Status s = rejected(TestHost.header(big.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
    assertTrue(s.getDescription().contains("TOO_MANY_INSTRUCTIONS"), s.getDescription());
  }

  @Test
  void unknownPriceTableIsFailedPrecondition() throws Exception {
    ExecuteRequest header = TestHost.header(headsProgram().encoded(), table,
        TestHost.withdrawal(account, table, BUDGET), 1);
    byte[] id = new byte[32];
    Arrays.fill(id, (byte) 7);
    header = header.toBuilder().setHeader(header.getHeader().toBuilder().setPriceTableId(ByteString.copyFrom(id)))
        .build();
    Status s = rejected(header);
    assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode());
    assertTrue(s.getDescription().contains("was not issued by this host"), s.getDescription());
  }

  @Test
  void replayedWithdrawalIsAlreadyExists() throws Exception {
    ProgramBuilder p = headsProgram();
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Stream first = t.open();
    first.send(TestHost.header(p.encoded(), table, w, 1));
    first.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    assertEquals(Status.Code.OK, TestHost.finish(first, true).status().getCode());
    Status s = rejected(TestHost.header(p.encoded(), table, w, 1));
    assertEquals(Status.Code.ALREADY_EXISTS, s.getCode());
    assertTrue(s.getDescription().contains("REPLAYED_NONCE"), s.getDescription());
  }

  @Test
  void insufficientBalanceIsFailedPrecondition() throws Exception {
    SigningKey poor = SigningKey.generate();
    Stream s = t.open();
    s.send(TestHost.header(headsProgram().encoded(), table, TestHost.withdrawal(poor, table, BUDGET), 1));
    Status status = s.status();
    assertEquals(Status.Code.FAILED_PRECONDITION, status.getCode());
    assertTrue(status.getDescription().contains("INSUFFICIENT_BALANCE"), status.getDescription());
  }

  @Test
  void unknownCapsuleIsNotFoundWithTheRestRefunded() throws Exception {
    byte[] other = new byte[32];
    Arrays.fill(other, (byte) 3);
    ProgramBuilder p = new ProgramBuilder(Hash.copyOf(other));
    p.add(new Instruction.Heads());
    long before = t.balance(account);
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, w, 1));
    Run run = TestHost.finish(s, true);
    assertEquals(Status.Code.NOT_FOUND, run.status().getCode());
    assertEquals(FailureReason.FAILURE_REASON_NOT_FOUND, run.end().getEnd().getFailure().getReason());
    assertEquals(0, run.end().getEnd().getFailure().getInstruction());
    Receipt r = TestHost.check(run, p, table, BUDGET, w);
    assertEquals(r, failure(run));
    assertEquals(Hash.copyOf(other), r.capsuleIdOrNull());
    assertEquals(before - r.finalCost().units(), t.balance(account));
  }

  @Test
  void dataOverTheDeclaredLengthIsInvalidArgument() throws Exception {
    ProgramBuilder p = headsProgram();
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    long before = t.balance(account);
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, w, 1));
    byte[] tooMuch = Arrays.copyOf(p.bytes(), p.bytes().length + 10);
    s.send(TestHost.data(tooMuch, 0, tooMuch.length));
    Run run = TestHost.finish(s, true);
    assertEquals(Status.Code.INVALID_ARGUMENT, run.status().getCode());
    assertTrue(run.status().getDescription().contains("over the declared length"), run.status().getDescription());
    Receipt r = failure(run);
    assertEquals(FailureReason.FAILURE_REASON_PROTOCOL.getNumber(), r.failureReason());
    assertEquals(Receipt.NO_INSTRUCTION, r.failedInstruction(), "the stream's failure, not an instruction's");
    assertEquals(before - r.finalCost().units(), t.balance(account));
  }

  @Test
  void dataAfterTheEndIsInvalidArgument() throws Exception {
    // A write program waits for its decision, so data after the end arrives while it is pending.
    CapsuleFixture g = new CapsuleFixture("after-end");
    ProgramBuilder p = new ProgramBuilder(null);
    p.add(new Instruction.CreateCapsule(p.put(g.metadata.encoded())));
    long before = t.balance(account);
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    assertTrue(s.response().hasResult());
    assertTrue(s.response().hasProposal());
    s.send(TestHost.data(new byte[3], 0, 3));
    ExecuteResponse end = s.response();
    Status status = s.status();
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("after the end"), status.getDescription());
    Receipt r = TestHost.failure(end, status, table.hostKey());
    assertEquals(FailureReason.FAILURE_REASON_PROTOCOL.getNumber(), r.failureReason());
    assertEquals(before - r.finalCost().units(), t.balance(account));
  }

  @Test
  void secondHeaderIsInvalidArgumentAndRefunds() throws Exception {
    ProgramBuilder p = headsProgram();
    long before = t.balance(account);
    Stream s = t.open();
    ExecuteRequest header = TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1);
    s.send(header);
    s.send(header);
    Run run = TestHost.finish(s, true);
    assertEquals(Status.Code.INVALID_ARGUMENT, run.status().getCode());
    assertTrue(run.status().getDescription().contains("second ProgramHeader"), run.status().getDescription());
    assertEquals(FailureReason.FAILURE_REASON_PROTOCOL.getNumber(), failure(run).failureReason());
    assertEquals(before - run.receipt().receipt().finalCost().units(), t.balance(account));
  }

  @Test
  void decisionBeforeProposalIsFailedPrecondition() throws Exception {
    ProgramBuilder p = headsProgram();
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    s.send(TestHost.decision(true));
    Run run = TestHost.finish(s, true);
    assertEquals(Status.Code.FAILED_PRECONDITION, run.status().getCode());
    assertTrue(run.status().getDescription().contains("CommitDecision before a CommitProposal"),
        run.status().getDescription());
    assertEquals(FailureReason.FAILURE_REASON_PROTOCOL.getNumber(), failure(run).failureReason(),
        "FAILED_PRECONDITION goes with PROTOCOL for this one");
  }

  @Test
  void oversizedMessageIsRefusedByTheTransport() throws Exception {
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.HasRecord(p.put(new byte[32])));
    byte[] huge = new byte[t.host.config().maxInboundMessageBytes() + 1];
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    s.send(TestHost.data(huge, 0, huge.length));
    Status status = s.status();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), status.toString());
  }

  @Test
  void disconnectMidProgramCommitsNothingAndRefunds() throws Exception {
    CapsuleFixture g = new CapsuleFixture("disconnect");
    ProgramBuilder p = new ProgramBuilder(null);
    p.add(new Instruction.CreateCapsule(p.put(g.metadata.encoded())));
    long before = t.balance(account);
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 10));
    s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    assertTrue(s.response().hasResult());
    ExecuteResponse proposal = s.response();
    assertTrue(proposal.hasProposal());
    s.requests.cancel("renter goes away", null);
    // Storage (5 units per byte per duration unit in the default prices) comes back with the rest.
    long storage = 5L * 10 * g.metadata.encoded().length;
    long expected = before - (proposal.getProposal().getCost() - storage);
    Await.value("the refund", () -> t.balance(account), balance -> balance == expected);
    // Nothing was committed: the capsule can be created now.
    Run again = t.run(p, table, account, BUDGET, 1 << 20, true);
    assertEquals(Status.Code.OK, again.status().getCode(), again.status().toString());
  }

  @Test
  void disconnectWhileDataIsMissingRefunds() throws Exception {
    ProgramBuilder p = headsProgram();
    long before = t.balance(account);
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    s.send(TestHost.data(p.bytes(), 0, 5));
    // Admitted: its budget is held, not taken, so the balance has not moved.
    Await.until("the host admits the program", () -> t.programsRunning() == 1);
    assertEquals(before, t.balance(account));
    s.requests.cancel("renter goes away", null);
    long spent = Await.value("the settlement", () -> before - t.balance(account), paid -> paid > 0);
    assertTrue(spent < 100_000, "only the start and the upload were paid, spent " + spent);
  }

  @Test
  void adminNeedsTheToken() {
    AdminGrpc.AdminBlockingStub none = AdminGrpc.newBlockingStub(t.adminChannel);
    StatusRuntimeException missing = assertThrows(StatusRuntimeException.class,
        () -> none.status(StatusRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, missing.getStatus().getCode());
    StatusRuntimeException wrong = assertThrows(StatusRuntimeException.class,
        () -> none.withInterceptors(TestHost.bearer("not-the-token")).status(StatusRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, wrong.getStatus().getCode());
    assertEquals(t.host.hostKey(), dev.capsulevm.proofs.crypto.PublicKey.copyOf(
        t.admin.status(StatusRequest.getDefaultInstance()).getHostKey().toByteArray()));
  }

  @Test
  void anInputThatDoesNotValidateIsTheFailedInstructionOfTheReceipt() throws Exception {
    RecordWithBody stray = f.record(r1.hash(), "never-sent");
    RecordWithBody orphan = f.record(stray.hash(), "orphan");
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.Heads());
    p.add(new Instruction.AppendRecord(p.put(AppendEncoding.encode(List.of(orphan)))));
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, w, 1));
    s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    Run run = TestHost.finish(s, true);
    assertEquals(Status.Code.INVALID_ARGUMENT, run.status().getCode(), run.status().toString());
    Receipt r = failure(run);
    assertEquals(1, r.failedInstruction());
    assertEquals(FailureReason.FAILURE_REASON_INVALID_INPUT.getNumber(), r.failureReason());
    assertTrue(r.failureMessage().startsWith("instruction 1: "), r.failureMessage());
    assertEquals(1, r.outputCount(), "the Heads output was sent");
    assertEquals(r, TestHost.check(run, p, table, BUDGET, w));
  }

  @Test
  void closingWithoutADecisionRefusesTheCommitAndTheReceiptSaysWhy() throws Exception {
    CapsuleFixture g = new CapsuleFixture("no-decision");
    ProgramBuilder p = new ProgramBuilder(g.id());
    p.add(new Instruction.CreateCapsule(p.put(g.metadata.encoded())));
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    assertTrue(s.response().hasResult());
    assertTrue(s.response().hasProposal());
    s.requests.onCompleted();
    ExecuteResponse end = s.response();
    Status status = s.status();
    assertEquals(Status.Code.ABORTED, status.getCode(), status.toString());
    Receipt r = TestHost.failure(end, status, table.hostKey());
    assertEquals(FailureReason.FAILURE_REASON_REFUSED.getNumber(), r.failureReason());
    assertEquals(Receipt.NO_INSTRUCTION, r.failedInstruction());
    assertTrue(r.failureMessage().contains("without a CommitDecision"), r.failureMessage());
    assertEquals(g.id(), r.capsuleIdOrNull());
  }

  @Test
  void dataThatStopsAfterTheLastInstructionIsLateAsTheReceiptSays() throws Exception {
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.HasRecord(p.put(r1.hash())));
    p.put(new byte[16]); // declared, never sent
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    s.send(TestHost.data(p.bytes(), 0, 32));
    Run run = TestHost.finish(s, true);
    // The data timeout (2 s here) runs out after the output: DATA, with the status of a late arrival.
    assertEquals(Status.Code.DEADLINE_EXCEEDED, run.status().getCode(), run.status().toString());
    Receipt r = failure(run);
    assertEquals(FailureReason.FAILURE_REASON_DATA.getNumber(), r.failureReason());
    assertEquals(Receipt.NO_INSTRUCTION, r.failedInstruction());
    assertEquals(1, r.outputCount());
  }

  @Test
  void aBudgetThatCannotPayAnInstructionNamesItInTheReceipt() throws Exception {
    ProgramBuilder p = headsProgram();
    // Enough for the start, the messages and instruction 0, not for its output: learned from a full run.
    byte[] full = TestHost.withdrawal(account, table, BUDGET);
    Stream first = t.open();
    first.send(TestHost.header(p.encoded(), table, full, 1));
    first.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    Run complete = TestHost.finish(first, true);
    long budget = complete.results().get(0).getResult().getCostSoFar() + 10;
    byte[] w = TestHost.withdrawal(account, table, budget);
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, w, 1));
    s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    Run run = TestHost.finish(s, true);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, run.status().getCode(), run.status().toString());
    Receipt r = failure(run);
    assertEquals(FailureReason.FAILURE_REASON_BUDGET.getNumber(), r.failureReason());
    assertEquals(0, r.failedInstruction(), "instruction 0's output could not be paid for");
    assertEquals(0, r.outputCount());
    assertEquals(complete.results().get(0).getResult().getMaxOutputBytes(),
        run.end().getEnd().getFailure().getMaxOutputBytes(), "the bound it was charged for");
    assertEquals(r, TestHost.check(run, p, table, budget, w));
  }
}
