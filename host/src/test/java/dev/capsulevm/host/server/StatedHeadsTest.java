package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.host.server.TestHost.Stream;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.FailureReason;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes whose renter states the heads they leave in the ProgramHeader (docs/PROTOCOL.md, "Stated
 * heads"): the host commits at once, without a CommitProposal, exactly when the program leaves those
 * heads; otherwise it writes nothing and ends the program REFUSED. Malformed statements are refused
 * before anything is taken.
 */
class StatedHeadsTest {
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
    t = new TestHost(TestHost.config(dir));
    account = SigningKey.generate();
    t.fund(account, 1_000_000_000L);
    table = t.table().table();
    f = new CapsuleFixture("stated");
    r1 = f.record(List.of(f.id()), "one", 2);
    ProgramBuilder create = new ProgramBuilder(f.id());
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    create.add(new Instruction.AppendRecord(create.put(AppendEncoding.encode(List.of(r1)))));
    assertEquals(Status.Code.OK, t.run(create, table, account, BUDGET, 1 << 20, true).status().getCode());
  }

  @AfterEach
  void stop() {
    t.close();
  }

  private ProgramBuilder append(RecordWithBody record) {
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.AppendRecord(p.put(AppendEncoding.encode(List.of(record)))));
    return p;
  }

  /** Sends the program stating {@code heads}, its data, and closes the renter's side at once. */
  private Run runStating(ProgramBuilder p, List<Hash> heads) throws Exception {
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1, heads));
    s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
    // Nothing left to send: a program that stated its heads needs no CommitDecision.
    s.close();
    return TestHost.finish(s, false);
  }

  private List<Hash> heads() throws Exception {
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.Heads());
    Run run = t.run(p, table, account, BUDGET, 1024, true);
    Output.Heads out = (Output.Heads) OutputEncoding.decode(p.program().instructions().get(0),
        run.results().get(0).getResult().getOutput().toByteArray());
    List<Hash> hashes = new ArrayList<>();
    for (Record r : out.heads()) {
      hashes.add(r.hash());
    }
    return hashes;
  }

  @Test
  void aWriteLeavingTheStatedHeadsCommitsWithoutAProposal() throws Exception {
    RecordWithBody r2 = f.record(List.of(r1.hash()), "two", 3);
    long before = t.balance(account);
    Run run = runStating(append(r2), List.of(r2.hash()));
    assertEquals(Status.Code.OK, run.status().getCode(), run.status().toString());
    assertEquals(null, run.proposal(), "no proposal");
    assertEquals(1, run.results().size());
    assertEquals(List.of(ByteString.copyFrom(r2.hash().toByteArray())), run.end().getEnd().getCommittedHeadsList());
    Receipt receipt = SignedReceipt.parse(run.end().getEnd().getSignedReceipt().toByteArray())
        .verify(table.hostKey());
    assertEquals(new Receipt.Completed(List.of(r2.hash())), receipt.end());
    assertEquals(before - receipt.finalCost().units(), t.balance(account), "charged once, in the commit");
    assertEquals(List.of(r2.hash()), heads());
  }

  @Test
  void aWriteLeavingOtherHeadsIsRefusedAndWritesNothing() throws Exception {
    RecordWithBody r2 = f.record(List.of(r1.hash()), "two", 3);
    Hash other = Hash.copyOf(new byte[] {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
        30, 31, 32});
    List<Hash> stated = new ArrayList<>(List.of(r2.hash(), other));
    stated.sort(null);
    long before = t.balance(account);
    Run run = runStating(append(r2), stated);
    assertEquals(Status.Code.ABORTED, run.status().getCode(), run.status().toString());
    Receipt receipt = TestHost.failure(run.end(), run.status(), table.hostKey());
    assertEquals(FailureReason.FAILURE_REASON_REFUSED.getNumber(), receipt.failureReason());
    assertTrue(receipt.failureMessage().contains("the renter stated"), receipt.failureMessage());
    assertEquals(before - receipt.finalCost().units(), t.balance(account), "the rest refunded");
    assertEquals(List.of(r1.hash()), heads(), "nothing written");
  }

  @Test
  void aDecisionForAProgramThatStatedItsHeadsIsAProtocolError() throws Exception {
    RecordWithBody r2 = f.record(List.of(r1.hash()), "two", 3);
    ProgramBuilder p = append(r2);
    Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1,
        List.of(r2.hash())));
    s.send(TestHost.decision(true));
    Run run = TestHost.finish(s, false);
    assertEquals(Status.Code.FAILED_PRECONDITION, run.status().getCode());
    assertTrue(run.status().getDescription().contains("states its expected heads"), run.status().getDescription());
    assertEquals(List.of(r1.hash()), heads(), "nothing written");
  }

  @Test
  void malformedStatedHeadsAreRefusedBeforeAnythingIsTaken() throws Exception {
    RecordWithBody r2 = f.record(List.of(r1.hash()), "two", 3);
    ProgramBuilder write = append(r2);
    ProgramBuilder read = new ProgramBuilder(f.id());
    read.add(new Instruction.Heads());
    Hash low = Hash.copyOf(new byte[32]);
    List<ExecuteRequest> headers = new ArrayList<>();
    ExecuteRequest valid = TestHost.header(write.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1,
        List.of(r2.hash()));
    headers.add(valid.toBuilder().setHeader(valid.getHeader().toBuilder()
        .setExpectedHeads(0, ByteString.copyFrom(new byte[31]))).build());
    headers.add(TestHost.header(write.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1,
        List.of(r2.hash(), low).stream().sorted(java.util.Comparator.reverseOrder()).toList()));
    headers.add(TestHost.header(write.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1,
        List.of(r2.hash(), r2.hash())));
    headers.add(TestHost.header(read.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1,
        List.of(r2.hash())));
    for (ExecuteRequest header : headers) {
      long before = t.balance(account);
      Stream s = t.open();
      s.send(header);
      Object first = s.next();
      assertTrue(first instanceof Status, "refused before any response, got " + first);
      Status status = (Status) first;
      assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode(), status.toString());
      assertTrue(status.getDescription().startsWith("header: expected_heads: "), status.getDescription());
      assertEquals(before, t.balance(account), "nothing taken");
    }
    assertFalse(heads().contains(r2.hash()));
  }
}
