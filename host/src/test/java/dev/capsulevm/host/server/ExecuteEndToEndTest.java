package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.FailureReason;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every instruction end to end over real gRPC on loopback, with the receipt checked to the unit. */
class ExecuteEndToEndTest {
  static final long BUDGET = 50_000_000;

  @TempDir
  Path dir;
  TestHost t;
  SigningKey account;
  PriceTable table;

  @BeforeEach
  void start() throws Exception {
    t = new TestHost(TestHost.config(dir));
    account = SigningKey.generate();
    t.fund(account, 1_000_000_000L);
    table = t.table().table();
  }

  @AfterEach
  void stop() throws Exception {
    t.close();
  }

  /** Creates the fixture's capsule and appends {@code records}, confirming; returns the run. */
  Run createAndAppend(CapsuleFixture f, RecordWithBody... records) throws Exception {
    ProgramBuilder create = new ProgramBuilder(null);
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    Run created = t.run(create, table, account, BUDGET, 1 << 20, true);
    assertEquals(Status.Code.OK, created.status().getCode(), () -> created.status().toString());
    ProgramBuilder append = new ProgramBuilder(f.id());
    append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(records)))));
    Run appended = t.run(append, table, account, BUDGET, 1 << 20, true);
    assertEquals(Status.Code.OK, appended.status().getCode(), () -> appended.status().toString());
    return appended;
  }

  @Test
  void everyInstructionEndToEndWithExactReceipts() throws Exception {
    CapsuleFixture f = new CapsuleFixture("e2e");
    long before = t.balance(account);

    ProgramBuilder create = new ProgramBuilder(null);
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    TestHost.Stream s = t.open();
    s.send(TestHost.header(create.encoded(), table, w, 10));
    s.send(TestHost.data(create.bytes(), 0, create.bytes().length));
    Run created = TestHost.finish(s, true);
    assertEquals(Status.Code.OK, created.status().getCode(), created.status().toString());
    Output.CapsuleCreated c = assertInstanceOf(Output.CapsuleCreated.class, decode(create, created, 0));
    assertEquals(f.id(), c.capsuleId());
    assertNotNull(created.proposal());
    Receipt r1 = TestHost.check(created, create, table, BUDGET, w);
    assertFalse(r1.failed());
    assertEquals(before - r1.finalCost().units(), t.balance(account));

    RecordWithBody r1rec = f.record(List.of(f.id()), "one", 3);
    RecordWithBody r2rec = f.record(r1rec.hash(), "two");
    ProgramBuilder append = new ProgramBuilder(f.id());
    append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(r1rec, r2rec)))));
    byte[] w2 = TestHost.withdrawal(account, table, BUDGET);
    s = t.open();
    s.send(TestHost.header(append.encoded(), table, w2, 10));
    s.send(TestHost.data(append.bytes(), 0, 7));
    s.send(TestHost.data(append.bytes(), 7, append.bytes().length));
    Run appended = TestHost.finish(s, true);
    assertEquals(Status.Code.OK, appended.status().getCode(), appended.status().toString());
    assertEquals(List.of(ByteString.copyFrom(r2rec.hash().toByteArray())),
        appended.proposal().getProposal().getHeadsList());
    assertEquals(appended.proposal().getProposal().getHeadsList(), appended.end().getEnd().getCommittedHeadsList());
    TestHost.check(appended, append, table, BUDGET, w2);

    ProgramBuilder read = new ProgramBuilder(f.id());
    DataRef anchor = read.put(r2rec.hash());
    DataRef target = read.put(r1rec.hash());
    read.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(target), 2, anchor));
    read.add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(2), 0, anchor));
    read.add(Instruction.Prove.record(anchor, new RecordSelector.ByHeight(1)));
    read.add(new Instruction.Prove(anchor, new RecordSelector.ByHash(target), 1));
    read.add(new Instruction.HasRecord(target));
    read.add(new Instruction.ReadByHash(anchor));
    read.add(new Instruction.Heads());
    byte[] w3 = TestHost.withdrawal(account, table, BUDGET);
    s = t.open();
    s.send(TestHost.header(read.encoded(), table, w3, 10));
    s.send(TestHost.data(read.bytes(), 0, read.bytes().length));
    Run reads = TestHost.finish(s, true);
    assertEquals(Status.Code.OK, reads.status().getCode(), reads.status().toString());
    assertNull(reads.proposal(), "a read-only program gets no proposal");
    assertEquals(7, reads.results().size());
    Output.SubRecord sub = assertInstanceOf(Output.SubRecord.class, decode(read, reads, 0));
    assertArrayEquals("one-2".getBytes(), sub.payload());
    Output.SubRecord sub2 = assertInstanceOf(Output.SubRecord.class, decode(read, reads, 1));
    assertArrayEquals("two-0".getBytes(), sub2.payload());
    assertNotNull(assertInstanceOf(Output.Proof.class, decode(read, reads, 2)).recordProofOrNull());
    assertNotNull(assertInstanceOf(Output.Proof.class, decode(read, reads, 3)).subRecordProofOrNull());
    assertTrue(assertInstanceOf(Output.Has.class, decode(read, reads, 4)).held());
    assertNotNull(assertInstanceOf(Output.ByHash.class, decode(read, reads, 5)).recordOrNull());
    assertEquals(1, assertInstanceOf(Output.Heads.class, decode(read, reads, 6)).heads().size());
    long previous = 0;
    for (ExecuteResponse r : reads.results()) {
      assertTrue(r.getResult().getCostSoFar() > previous, "cost so far grows");
      previous = r.getResult().getCostSoFar();
      assertTrue(r.getSerializedSize() <= r.getResult().getMaxOutputBytes(), "within the charged bound");
    }
    Receipt r3 = TestHost.check(reads, read, table, BUDGET, w3);
    assertEquals(7, r3.instructionsCharged());
  }

  @Test
  void programDataSentSlowlyInChunksWhileOutputsArrive() throws Exception {
    CapsuleFixture f = new CapsuleFixture("slow");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 4);
    createAndAppend(f, r1);
    ProgramBuilder read = new ProgramBuilder(f.id());
    DataRef anchor = read.put(r1.hash());
    read.add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), 0, anchor));
    List<DataRef> later = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      read.put(new byte[200]);
      later.add(read.put(r1.hash()));
      read.add(new Instruction.HasRecord(later.get(i)));
    }
    byte[] d = read.bytes();
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    TestHost.Stream s = t.open();
    s.send(TestHost.header(read.encoded(), table, w, 10));
    s.send(TestHost.data(d, 0, 32));
    // The first output arrives while most of the data has not been sent.
    ExecuteResponse first = s.response();
    assertEquals(0, first.getResult().getIndex());
    // Each later output too: the renter waits for it before sending the data after it.
    int next = 0;
    for (int at = 32; at < d.length; at += 50) {
      int to = Math.min(d.length, at + 50);
      s.send(TestHost.data(d, at, to));
      for (; next < later.size() && later.get(next).end() <= to; next++) {
        assertEquals(next + 1, s.response().getResult().getIndex());
      }
    }
    Run rest = TestHost.finish(s, true);
    assertEquals(Status.Code.OK, rest.status().getCode(), rest.status().toString());
    assertEquals(0, rest.results().size());
  }

  @Test
  void readOnlyProgramsFromSeveralClientsDuringAWriteProgram() throws Exception {
    CapsuleFixture f = new CapsuleFixture("parallel");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 2);
    createAndAppend(f, r1);
    // A write program that holds its commit open.
    RecordWithBody r2 = f.record(r1.hash(), "two");
    ProgramBuilder append = new ProgramBuilder(f.id());
    append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(r2)))));
    TestHost.Stream writer = t.open();
    writer.send(TestHost.header(append.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 10));
    writer.send(TestHost.data(append.bytes(), 0, append.bytes().length));
    assertTrue(writer.response().hasResult());
    assertTrue(writer.response().hasProposal());

    ExecutorService clients = Executors.newFixedThreadPool(4);
    try {
      List<Future<Run>> runs = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        SigningKey other = SigningKey.generate();
        t.fund(other, 100_000_000L);
        runs.add(clients.submit(() -> {
          ProgramBuilder read = new ProgramBuilder(f.id());
          read.add(new Instruction.Heads());
          return t.run(read, table, other, BUDGET, 1024, true);
        }));
      }
      for (Future<Run> run : runs) {
        Run r = run.get();
        assertEquals(Status.Code.OK, r.status().getCode(), r.status().toString());
        Output.Heads heads = (Output.Heads) OutputEncoding.decode(new Instruction.Heads(),
            r.results().get(0).getResult().getOutput().toByteArray());
        assertEquals(r1.hash(), heads.heads().get(0).hash(), "readers see the committed state only");
      }
    } finally {
      clients.shutdownNow();
    }
    writer.send(TestHost.decision(true));
    Object end = writer.next();
    assertTrue(((ExecuteResponse) end).hasEnd());
    assertEquals(Status.Code.OK, writer.status().getCode());
  }

  @Test
  void concurrentChunkedProgramsAreMeteredExactly() throws Exception {
    // Uploads are charged on gRPC's threads while instructions and outputs are charged on the program
    // threads; every receipt must still match the renter's own count to the unit.
    CapsuleFixture f = new CapsuleFixture("concurrent");
    RecordWithBody r1 = f.record(List.of(f.id()), "one", 8);
    createAndAppend(f, r1);
    ExecutorService clients = Executors.newFixedThreadPool(8);
    try {
      List<Future<Receipt>> receipts = new ArrayList<>();
      for (int c = 0; c < 8; c++) {
        SigningKey other = SigningKey.generate();
        t.fund(other, 1_000_000_000L);
        receipts.add(clients.submit(() -> {
          Receipt last = null;
          for (int run = 0; run < 5; run++) {
            ProgramBuilder read = new ProgramBuilder(f.id());
            DataRef anchor = read.put(r1.hash());
            for (int i = 0; i < 8; i++) {
              read.add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), i, anchor));
              read.add(new Instruction.HasRecord(read.put(r1.hash())));
            }
            byte[] w = TestHost.withdrawal(other, table, BUDGET);
            long before = t.balance(other);
            TestHost.Stream s = t.open();
            s.send(TestHost.header(read.encoded(), table, w, 10));
            byte[] d = read.bytes();
            for (int at = 0; at < d.length; at += 13) {
              s.send(TestHost.data(d, at, Math.min(d.length, at + 13)));
            }
            Run done = TestHost.finish(s, true);
            assertEquals(Status.Code.OK, done.status().getCode(), done.status().toString());
            last = TestHost.check(done, read, table, BUDGET, w);
            assertEquals(before - last.finalCost().units(), t.balance(other));
          }
          return last;
        }));
      }
      for (Future<Receipt> r : receipts) {
        assertFalse(r.get().failed());
      }
    } finally {
      clients.shutdownNow();
    }
  }

  @Test
  void refusedCommitWritesNothingAndRefundsStorage() throws Exception {
    CapsuleFixture f = new CapsuleFixture("refuse");
    ProgramBuilder create = new ProgramBuilder(null);
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    long before = t.balance(account);
    Run refused = t.run(create, table, account, BUDGET, 1 << 20, false);
    assertEquals(Status.Code.ABORTED, refused.status().getCode());
    assertEquals(FailureReason.FAILURE_REASON_REFUSED, refused.end().getEnd().getFailure().getReason());
    Receipt r = TestHost.failure(refused.end(), refused.status(), table.hostKey());
    assertEquals(Receipt.NO_INSTRUCTION, r.failedInstruction());
    assertTrue(r.cost().storage().isZero());
    assertEquals(before - r.finalCost().units(), t.balance(account));
    // Nothing was created: the capsule can be created now.
    Run again = t.run(create, table, account, BUDGET, 1 << 20, true);
    assertEquals(Status.Code.OK, again.status().getCode(), again.status().toString());
  }

  private static Output decode(ProgramBuilder program, Run run, int i) throws Exception {
    return OutputEncoding.decode(program.program().instructions().get(i),
        run.results().get(i).getResult().getOutput().toByteArray());
  }
}
