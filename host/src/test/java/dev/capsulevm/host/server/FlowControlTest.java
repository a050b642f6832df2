package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.host.server.TestHost.Stream;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.testing.Await;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Backpressure in both directions and the commit deadline. */
class FlowControlTest {
  static final long BUDGET = 200_000_000;

  @TempDir
  Path dir;

  /** A renter that reads nothing until told to. */
  static final class SlowStream extends Stream {
    @Override
    public void beforeStart(ClientCallStreamObserver<ExecuteRequest> requestStream) {
      super.beforeStart(requestStream);
      requestStream.disableAutoRequestWithInitial(0);
    }
  }

  @Test
  void aRenterThatDoesNotReadFailsItsProgramAfterTheSendTimeout() throws Exception {
    HostConfig config = TestHost.config(dir).withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(5),
        Duration.ofMillis(700), Duration.ofSeconds(2));
    try (TestHost t = new TestHost(config)) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      CapsuleFixture f = new CapsuleFixture("slow-reader");
      // One sub-record of 60,000 bytes.
      RecordWithBody big = bigRecord(f);
      ProgramBuilder create = new ProgramBuilder(f.id());
      create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
      create.add(new Instruction.AppendRecord(create.put(AppendEncoding.encode(List.of(big)))));
      assertEquals(Status.Code.OK, t.run(create, table, account, BUDGET, 1 << 20, true).status().getCode());

      ProgramBuilder read = new ProgramBuilder(f.id());
      DataRef anchor = read.put(big.hash());
      for (int i = 0; i < 60; i++) {
        read.add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), 0, anchor));
      }
      long ended = t.programsRun();
      SlowStream s = t.open(new SlowStream());
      byte[] w = TestHost.withdrawal(account, table, BUDGET);
      s.send(TestHost.header(read.encoded(), table, w, 1));
      s.send(TestHost.data(read.bytes(), 0, read.bytes().length));
      // The renter reads only once the host has ended the call on its own.
      Await.until("the host ends the call", () -> t.programsRun() > ended);
      s.requests.request(1000);
      Run run = TestHost.finish(s, true);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, run.status().getCode(), run.status().toString());
      assertEquals(FailureReason.FAILURE_REASON_SLOW_RENTER, run.end().getEnd().getFailure().getReason());
      assertTrue(run.results().size() < 60, "the host stopped sending, sent " + run.results().size());
      Receipt r = TestHost.failure(run.end(), run.status(), table.hostKey());
      assertEquals(Receipt.NO_INSTRUCTION, r.failedInstruction());
      // Only what it sent is charged and in the transcript: the output it could not send is in neither.
      assertEquals(r, TestHost.check(run, read, table, BUDGET, w));
      assertEquals(run.results().size(), r.outputCount());

      // The host still serves.
      ProgramBuilder heads = new ProgramBuilder(f.id());
      heads.add(new Instruction.Heads());
      assertEquals(Status.Code.OK, t.run(heads, table, account, BUDGET, 1024, true).status().getCode());
    }
  }

  static RecordWithBody bigRecord(CapsuleFixture f) {
    byte[] payload = new byte[60_000];
    java.util.Arrays.fill(payload, (byte) 'p');
    dev.capsulevm.proofs.capsule.InMemoryRecordSource none = new dev.capsulevm.proofs.capsule.InMemoryRecordSource();
    SigningKey writer = writer();
    dev.capsulevm.proofs.capsule.Record r = dev.capsulevm.proofs.capsule.Record.build(f.id(), List.of(f.id()),
        List.of(payload), 1_800_000_000_000L, writer, true, none);
    return new RecordWithBody(r, List.of(payload));
  }

  /** CapsuleFixture's writer (seed of twelves), which its metadata allows to append. */
  static SigningKey writer() {
    byte[] seed = new byte[32];
    java.util.Arrays.fill(seed, (byte) 12);
    return SigningKey.fromSeed(seed);
  }

  @Test
  void dataLargerThanTheBufferFlowsThroughWithBackpressure() throws Exception {
    HostConfig config = TestHost.config(dir).withBuffers(64 << 10, 64 << 10);
    try (TestHost t = new TestHost(config)) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      ProgramBuilder p = new ProgramBuilder(null);
      // Four small references spread over 1 MiB of data: most of it is released as it arrives, and
      // what is not has to wait for room.
      for (int i = 0; i < 4; i++) {
        p.add(new Instruction.HasRecord(p.put(new byte[32])));
        p.put(new byte[256 << 10]);
      }
      byte[] w = TestHost.withdrawal(account, table, BUDGET);
      Stream s = t.open();
      s.send(TestHost.header(p.encoded(), table, w, 1));
      byte[] d = p.bytes();
      for (int at = 0; at < d.length; at += 16 << 10) {
        s.send(TestHost.data(d, at, Math.min(d.length, at + (16 << 10))));
      }
      Run run = TestHost.finish(s, true);
      assertEquals(Status.Code.OK, run.status().getCode(), run.status().toString());
      assertEquals(4, run.results().size());
      Receipt r = TestHost.check(run, p, table, BUDGET, w);
      assertTrue(r.uploadBytes() > d.length, "every data message was counted");
    }
  }

  @Test
  void aCommitNeverDecidedExpiresAndEndsTheCall() throws Exception {
    HostConfig config = TestHost.config(dir).withTimeouts(Duration.ofMillis(300), Duration.ofSeconds(5),
        Duration.ofSeconds(5), Duration.ofSeconds(2));
    try (TestHost t = new TestHost(config)) {
      SigningKey account = SigningKey.generate();
      t.fund(account, 1_000_000_000L);
      PriceTable table = t.table().table();
      CapsuleFixture f = new CapsuleFixture("expire");
      ProgramBuilder p = new ProgramBuilder(null);
      p.add(new Instruction.CreateCapsule(p.put(f.metadata.encoded())));
      long before = t.balance(account);
      Stream s = t.open();
      s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
      s.send(TestHost.data(p.bytes(), 0, p.bytes().length));
      assertTrue(s.response().hasResult());
      assertTrue(s.response().hasProposal());
      ExecuteResponse end = s.response();
      Status status = s.status();
      assertEquals(Status.Code.DEADLINE_EXCEEDED, status.getCode(), status.toString());
      assertEquals(FailureReason.FAILURE_REASON_EXPIRED, end.getEnd().getFailure().getReason());
      Receipt r = TestHost.failure(end, status, table.hostKey());
      assertEquals(Receipt.NO_INSTRUCTION, r.failedInstruction());
      assertEquals(before - r.finalCost().units(), t.balance(account));
      assertEquals(Status.Code.OK, t.run(p, table, account, BUDGET, 1024, true).status().getCode(),
          "nothing was committed");
    }
  }
}
