package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.proto.v1.ProgramStatus;
import dev.capsulevm.proto.v1.StreamRequest;
import dev.capsulevm.proto.v1.StreamResponse;
import dev.capsulevm.testing.Await;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many programs on one ExecuteStream over real gRPC on loopback, each ending exactly as on its own Execute call. */
class ProgramStreamTest {
  static final long BUDGET = 50_000_000;

  @TempDir
  Path dir;
  TestHost t;
  SigningKey account;
  PriceTable table;

  @BeforeEach
  void start() throws Exception {
    // A short shutdownGrace: the shutdown tests wait for it to run out on a pending commit.
    t = new TestHost(TestHost.config(dir).withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(30),
        Duration.ofSeconds(30), Duration.ofMillis(200)));
    account = SigningKey.generate();
    t.fund(account, 1_000_000_000L);
    table = t.table().table();
  }

  @AfterEach
  void stop() {
    t.close();
  }

  /** One program stream seen from the renter: each program's messages, and the stream's own status. */
  final class Client implements ClientResponseObserver<StreamRequest, StreamResponse> {
    private final Map<Long, LinkedBlockingQueue<StreamResponse>> programs = new ConcurrentHashMap<>();
    private final LinkedBlockingQueue<Status> closed = new LinkedBlockingQueue<>();
    /** Every message, in arrival order. */
    final List<StreamResponse> arrived = new ArrayList<>();
    /** The upload bytes of each program, as its Execute call would count them. */
    private final Map<Long, Long> sent = new ConcurrentHashMap<>();
    ClientCallStreamObserver<StreamRequest> requests;

    @Override
    public void beforeStart(ClientCallStreamObserver<StreamRequest> requestStream) {
      requests = requestStream;
    }

    @Override
    public void onNext(StreamResponse value) {
      synchronized (arrived) {
        arrived.add(value);
      }
      queue(value.getProgram()).add(value);
    }

    @Override
    public void onError(Throwable e) {
      closed.add(Status.fromThrowable(e));
    }

    @Override
    public void onCompleted() {
      closed.add(Status.OK);
    }

    private LinkedBlockingQueue<StreamResponse> queue(long program) {
      return programs.computeIfAbsent(program, p -> new LinkedBlockingQueue<>());
    }

    void send(long program, ExecuteRequest request) {
      if (!request.hasDecision()) {
        sent.merge(program, (long) request.getSerializedSize(), Long::sum);
      }
      raw(StreamRequest.newBuilder().setProgram(program).setRequest(request).build());
    }

    void sendAll(long program, ProgramBuilder p, byte[] withdrawal, int chunk) {
      send(program, TestHost.header(p.encoded(), table, withdrawal, 10));
      byte[] d = p.bytes();
      for (int at = 0; at < d.length; at += chunk) {
        send(program, TestHost.data(d, at, Math.min(d.length, at + chunk)));
      }
    }

    void cancel(long program, String why) {
      raw(StreamRequest.newBuilder().setProgram(program).setCancel(why).build());
    }

    void halfClose(long program) {
      raw(StreamRequest.newBuilder().setProgram(program).setHalfClose(true).build());
    }

    synchronized void raw(StreamRequest request) {
      requests.onNext(request);
    }

    synchronized void close() {
      requests.onCompleted();
    }

    StreamResponse next(long program) throws InterruptedException {
      StreamResponse r = queue(program).poll(20, TimeUnit.SECONDS);
      if (r == null) {
        throw new AssertionError("nothing for program " + program + " within 20 s");
      }
      return r;
    }

    /** The stream's own status. */
    Status status() throws InterruptedException {
      Status s = closed.poll(20, TimeUnit.SECONDS);
      if (s == null) {
        throw new AssertionError("the stream did not end within 20 s");
      }
      return s;
    }

    /** Reads a program's messages to its status, deciding a proposal with {@code confirm}, as TestHost.finish. */
    Run finish(long program, boolean confirm) throws InterruptedException {
      List<ExecuteResponse> results = new ArrayList<>();
      ExecuteResponse proposal = null;
      ExecuteResponse end = null;
      long received = 0;
      while (true) {
        StreamResponse m = next(program);
        if (m.hasResponse()) {
          ExecuteResponse r = m.getResponse();
          if (r.hasResult()) {
            results.add(r);
            received += r.getSerializedSize();
          } else if (r.hasProposal()) {
            proposal = r;
            send(program, TestHost.decision(confirm));
          } else {
            end = r;
          }
        }
        if (m.hasStatus()) {
          return new Run(results, proposal, end, statusOf(m.getStatus()), sent.getOrDefault(program, 0L), received);
        }
      }
    }

    /** The messages that arrived for {@code program} so far. */
    List<StreamResponse> of(long program) {
      synchronized (arrived) {
        return arrived.stream().filter(m -> m.getProgram() == program).toList();
      }
    }
  }

  static Status statusOf(ProgramStatus s) {
    return Status.fromCodeValue(s.getCode()).withDescription(s.getMessage().isEmpty() ? null : s.getMessage());
  }

  Client open() {
    Client c = new Client();
    t.async.executeStream(c);
    return c;
  }

  /** A capsule holding one record of {@code count} sub-records, made on Execute. */
  RecordWithBody capsule(CapsuleFixture f, int count) throws Exception {
    RecordWithBody r1 = f.record(List.of(f.id()), "one", count);
    ProgramBuilder create = new ProgramBuilder(null);
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    assertEquals(Status.Code.OK, t.run(create, table, account, BUDGET, 1 << 20, true).status().getCode());
    ProgramBuilder append = new ProgramBuilder(f.id());
    append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(r1)))));
    assertEquals(Status.Code.OK, t.run(append, table, account, BUDGET, 1 << 20, true).status().getCode());
    return r1;
  }

  static ProgramBuilder reads(CapsuleFixture f, RecordWithBody r1, int subRecord) {
    ProgramBuilder read = new ProgramBuilder(f.id());
    DataRef anchor = read.put(r1.hash());
    read.add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), subRecord, anchor));
    read.add(new Instruction.HasRecord(read.put(r1.hash())));
    read.add(Instruction.Prove.record(anchor, new RecordSelector.ByHeight(1)));
    read.add(new Instruction.Heads());
    return read;
  }

  static ProgramBuilder create(CapsuleFixture f) {
    ProgramBuilder create = new ProgramBuilder(null);
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    return create;
  }

  /** A receipt with what depends on the program's payment (its id) and the time left out. */
  static List<Object> contents(Receipt r) {
    return List.of(r.hostKey(), r.priceTableId(), String.valueOf(r.capsuleIdOrNull()), r.budget(),
        r.instructionsCharged(), r.uploadBytes(), r.downloadBytes(), r.cost(), r.refund(), r.outputCount(),
        r.transcriptRoot(), r.end());
  }

  static List<ByteString> outputs(Run run) {
    return run.results().stream().map(r -> r.getResult().getOutput()).toList();
  }

  @Test
  void interleavedProgramsEachGetTheOutputsAndReceiptOfTheirExecuteCall() throws Exception {
    CapsuleFixture f = new CapsuleFixture("interleaved");
    RecordWithBody r1 = capsule(f, 4);
    ProgramBuilder first = reads(f, r1, 1);
    ProgramBuilder second = reads(f, r1, 3);
    byte[] w1 = TestHost.withdrawal(account, table, BUDGET);
    byte[] w2 = TestHost.withdrawal(account, table, BUDGET);
    long before = t.balance(account);

    Client c = open();
    c.send(1, TestHost.header(first.encoded(), table, w1, 10));
    c.send(2, TestHost.header(second.encoded(), table, w2, 10));
    byte[] d1 = first.bytes();
    byte[] d2 = second.bytes();
    for (int at = 0; at < Math.max(d1.length, d2.length); at += 20) {
      if (at < d1.length) {
        c.send(1, TestHost.data(d1, at, Math.min(d1.length, at + 20)));
      }
      if (at < d2.length) {
        c.send(2, TestHost.data(d2, at, Math.min(d2.length, at + 20)));
      }
    }
    Run one = c.finish(1, true);
    Run two = c.finish(2, true);
    assertEquals(Status.Code.OK, one.status().getCode(), one.status().toString());
    assertEquals(Status.Code.OK, two.status().getCode(), two.status().toString());
    assertNull(one.proposal(), "a read-only program gets no proposal");
    Receipt r1Receipt = TestHost.check(one, first, table, BUDGET, w1);
    Receipt r2Receipt = TestHost.check(two, second, table, BUDGET, w2);
    assertFalse(r1Receipt.failed());
    assertEquals(before - r1Receipt.finalCost().units() - r2Receipt.finalCost().units(), t.balance(account));
    c.close();
    assertEquals(Status.Code.OK, c.status().getCode());

    // The same programs on Execute, in the same chunks: the same outputs and the same receipt but for
    // what names the payment and the time.
    Run alone = t.run(first, table, account, BUDGET, 20, true);
    assertEquals(outputs(alone), outputs(one));
    assertEquals(contents(alone.receipt().receipt()), contents(one.receipt().receipt()));
  }

  @Test
  void aRefusedProgramGetsItsOwnStatusWhileTheOthersComplete() throws Exception {
    CapsuleFixture f = new CapsuleFixture("refused");
    RecordWithBody r1 = capsule(f, 2);
    ProgramBuilder read = reads(f, r1, 0);
    Client c = open();
    c.send(1, TestHost.header(read.encoded(), table, new byte[7], 10));
    c.sendAll(2, read, TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    Run refused = c.finish(1, true);
    assertEquals(Status.Code.INVALID_ARGUMENT, refused.status().getCode(), refused.status().toString());
    assertTrue(refused.status().getDescription().contains("signed_withdrawal"), refused.status().toString());
    assertNull(refused.end(), "a refusal is the status alone");
    assertEquals(1, c.of(1).size(), "one message: the bare status");
    assertFalse(c.of(1).get(0).hasResponse());
    // Data for the refused program is late data now: dropped, as the program has ended.
    c.send(1, TestHost.data(read.bytes(), 0, read.bytes().length));
    Run done = c.finish(2, true);
    assertEquals(Status.Code.OK, done.status().getCode(), done.status().toString());
    assertEquals(4, done.results().size());
    c.close();
    assertEquals(Status.Code.OK, c.status().getCode());
    assertEquals(1, c.of(1).size(), "nothing more about the refused program");
  }

  @Test
  void cancellingOneProgramStopsOnlyItAndChargesWhatItsExecuteCallWould() throws Exception {
    CapsuleFixture f = new CapsuleFixture("cancel");
    RecordWithBody r1 = capsule(f, 2);
    // Output 0 needs the first 32 bytes only; instruction 1 waits for bytes the renter never sends.
    ProgramBuilder waits = new ProgramBuilder(f.id());
    waits.add(new Instruction.HasRecord(waits.put(r1.hash())));
    waits.put(new byte[200]);
    waits.add(new Instruction.HasRecord(waits.put(r1.hash())));
    SigningKey onStream = SigningKey.generate();
    SigningKey onExecute = SigningKey.generate();
    t.fund(onStream, 1_000_000_000L);
    t.fund(onExecute, 1_000_000_000L);

    long beforeExecute = t.balance(onExecute);
    TestHost.Stream s = t.open();
    s.send(TestHost.header(waits.encoded(), table, TestHost.withdrawal(onExecute, table, BUDGET), 10));
    s.send(TestHost.data(waits.bytes(), 0, 32));
    assertEquals(0, s.response().getResult().getIndex());
    s.requests.cancel("the renter stops", null);
    long spentOnExecute = beforeExecute
        - Await.value("the cancelled call settles", () -> t.balance(onExecute), b -> b != beforeExecute);

    long beforeStream = t.balance(onStream);
    Client c = open();
    c.send(1, TestHost.header(waits.encoded(), table, TestHost.withdrawal(onStream, table, BUDGET), 10));
    c.send(1, TestHost.data(waits.bytes(), 0, 32));
    ProgramBuilder read = reads(f, r1, 1);
    c.send(2, TestHost.header(read.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 10));
    assertEquals(0, c.next(1).getResponse().getResult().getIndex());
    c.cancel(1, "the renter stops");
    c.send(2, TestHost.data(read.bytes(), 0, read.bytes().length));
    Run other = c.finish(2, true);
    assertEquals(Status.Code.OK, other.status().getCode(), other.status().toString());
    long spentOnStream = beforeStream
        - Await.value("the cancelled program settles", () -> t.balance(onStream), b -> b != beforeStream);
    assertEquals(spentOnExecute, spentOnStream, "charged what ran before the host noticed, as on Execute");
    // The stream completes once the cancelled program has ended, and it sent nothing after its output.
    c.close();
    assertEquals(Status.Code.OK, c.status().getCode());
    assertEquals(1, c.of(1).size(), "a cancelled program sends nothing more: " + c.of(1));
    Await.until("no program holds a budget", () -> t.host.programsInFlight() == 0);
  }

  @Test
  void aReadWriteProgramsDecisionOnAStreamLeavesTheOthersAlone() throws Exception {
    CapsuleFixture f = new CapsuleFixture("decide");
    RecordWithBody r1 = capsule(f, 2);
    CapsuleFixture g = new CapsuleFixture("decide-new");
    ProgramBuilder write = create(g);
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Client c = open();
    c.sendAll(1, write, w, 1 << 20);
    Await.until("program 1's proposal", () -> c.of(1).size() == 2);
    assertTrue(c.of(1).get(1).getResponse().hasProposal());
    assertFalse(c.of(1).get(1).hasStatus());
    // Program 1 waits for its decision; program 2 runs to its end meanwhile.
    ProgramBuilder read = reads(f, r1, 0);
    c.sendAll(2, read, TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    assertEquals(Status.Code.OK, c.finish(2, true).status().getCode());
    Run written = c.finish(1, true);
    assertEquals(Status.Code.OK, written.status().getCode(), written.status().toString());
    assertNotNull(written.proposal());
    Receipt receipt = TestHost.check(written, write, table, BUDGET, w);
    assertFalse(receipt.failed());
    c.close();
    assertEquals(Status.Code.OK, c.status().getCode());
    // Committed: the capsule exists now.
    Run again = t.run(create(g), table, account, BUDGET, 1 << 20, true);
    assertEquals(Status.Code.FAILED_PRECONDITION, again.status().getCode(), again.status().toString());
  }

  @Test
  void programNumberZeroClosesTheStreamInvalidArgumentAndCancelsItsPrograms() throws Exception {
    CapsuleFixture f = new CapsuleFixture("zero");
    RecordWithBody r1 = capsule(f, 2);
    ProgramBuilder read = reads(f, r1, 0);
    Client c = open();
    c.send(1, TestHost.header(read.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 10));
    c.send(1, TestHost.data(read.bytes(), 0, 10));
    Await.until("the program is admitted", () -> t.host.programsInFlight() == 1);
    c.send(0, TestHost.data(read.bytes(), 10, read.bytes().length));
    Status closed = c.status();
    assertEquals(Status.Code.INVALID_ARGUMENT, closed.getCode(), closed.toString());
    assertTrue(closed.getDescription().contains("program is 0"), closed.toString());
    Await.until("the program is released", () -> t.host.programsInFlight() == 0);
    assertTrue(c.of(1).isEmpty(), "a program cancelled with its stream sends nothing: " + c.of(1));
  }

  @Test
  void messagesForEndedOrNeverStartedProgramsAreIgnored() throws Exception {
    CapsuleFixture f = new CapsuleFixture("late");
    RecordWithBody r1 = capsule(f, 2);
    ProgramBuilder read = reads(f, r1, 0);
    Client c = open();
    c.sendAll(1, read, TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    Run first = c.finish(1, true);
    assertEquals(Status.Code.OK, first.status().getCode());
    int ofFirst = c.of(1).size();
    // Program 1 has ended: its late data, cancel and half-close are dropped. A cancel starts nothing, but
    // its number counts as seen.
    c.send(1, TestHost.data(read.bytes(), 0, 5));
    c.cancel(1, "crossed its end");
    c.halfClose(1);
    c.cancel(4, "never started");
    c.sendAll(5, read, TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    Run fifth = c.finish(5, true);
    assertEquals(Status.Code.OK, fifth.status().getCode(), fifth.status().toString());
    // Below the highest number seen and never started: dropped, even a header.
    c.send(2, TestHost.header(read.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 10));
    c.send(4, TestHost.header(read.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 10));
    c.close();
    assertEquals(Status.Code.OK, c.status().getCode());
    assertEquals(ofFirst, c.of(1).size(), "nothing more about program 1");
    for (long never : List.of(2L, 3L, 4L)) {
      assertTrue(c.of(never).isEmpty(), "program " + never + " never started: " + c.of(never));
    }
    assertEquals(c.arrived.size(), c.of(1).size() + c.of(5).size());
  }

  @Test
  void aMessageCarryingNothingFailsItsProgramAsAnEmptyExecuteRequestWould() throws Exception {
    CapsuleFixture f = new CapsuleFixture("empty");
    RecordWithBody r1 = capsule(f, 2);
    Client c = open();
    c.raw(StreamRequest.newBuilder().setProgram(1).build());
    Status empty = statusOf(c.next(1).getStatus());
    assertEquals(Status.Code.INVALID_ARGUMENT, empty.getCode(), empty.toString());
    assertTrue(empty.getDescription().contains("carries none"), empty.toString());
    ProgramBuilder read = reads(f, r1, 0);
    c.sendAll(2, read, TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    assertEquals(Status.Code.OK, c.finish(2, true).status().getCode());
    c.close();
    assertEquals(Status.Code.OK, c.status().getCode());
  }

  @Test
  void halfClosingTheStreamHalfClosesItsProgramsAndCompletesAfterTheLast() throws Exception {
    CapsuleFixture f = new CapsuleFixture("half-close");
    RecordWithBody r1 = capsule(f, 2);
    CapsuleFixture g = new CapsuleFixture("half-close-new");
    ProgramBuilder write = create(g);
    Client c = open();
    c.sendAll(1, write, TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    assertTrue(c.next(1).getResponse().hasResult());
    assertTrue(c.next(1).getResponse().hasProposal());
    ProgramBuilder read = reads(f, r1, 0);
    c.sendAll(2, read, TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    c.close();
    // Program 1 waited for a decision the renter can no longer send: refused, as when an Execute call's
    // renter closes its side; program 2 had everything it needed.
    StreamResponse refused = c.next(1);
    Status status = statusOf(refused.getStatus());
    assertEquals(Status.Code.ABORTED, status.getCode(), status.toString());
    assertEquals(FailureReason.FAILURE_REASON_REFUSED, refused.getResponse().getEnd().getFailure().getReason());
    TestHost.failure(refused.getResponse(), status, table.hostKey());
    Run read2 = c.finish(2, true);
    assertEquals(Status.Code.OK, read2.status().getCode(), read2.status().toString());
    assertEquals(Status.Code.OK, c.status().getCode());
    synchronized (c.arrived) {
      assertTrue(c.arrived.get(c.arrived.size() - 1).hasStatus(), "the stream ended after its programs' statuses");
    }
  }

  @Test
  void hostCloseEndsAnIdleStreamUnavailableAtOnce() throws Exception {
    CapsuleFixture f = new CapsuleFixture("idle");
    RecordWithBody r1 = capsule(f, 2);
    Client c = open();
    c.sendAll(1, reads(f, r1, 0), TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    assertEquals(Status.Code.OK, c.finish(1, true).status().getCode());
    t.host.close();
    Status closed = c.status();
    // Closed by the stream itself, not reset by the server's shutdownNow (which a renter sees as CANCELLED).
    assertEquals(Status.Code.UNAVAILABLE, closed.getCode(), closed.toString());
    assertEquals("the host is shutting down", closed.getDescription());
  }

  @Test
  void hostCloseLetsAProgramInFlightEndWithItsStatusBeforeTheStreamCloses() throws Exception {
    CapsuleFixture g = new CapsuleFixture("shutdown");
    Client c = open();
    c.sendAll(1, create(g), TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    assertTrue(c.next(1).getResponse().hasResult());
    assertTrue(c.next(1).getResponse().hasProposal());
    t.host.close(); // the pending commit outlives shutdownGrace: aborted, UNAVAILABLE
    Status closed = c.status();
    assertEquals(Status.Code.UNAVAILABLE, closed.getCode(), closed.toString());
    assertEquals("the host is shutting down", closed.getDescription());
    List<StreamResponse> ofProgram = c.of(1);
    StreamResponse last = ofProgram.get(ofProgram.size() - 1);
    assertTrue(last.getResponse().hasEnd(), "the program's end came before the stream's status");
    Status status = statusOf(last.getStatus());
    assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
    Receipt r = TestHost.failure(last.getResponse(), status, table.hostKey());
    assertEquals(FailureReason.FAILURE_REASON_UNAVAILABLE.getNumber(), r.failureReason());
  }

  @Test
  void cancellingTheWholeStreamReleasesItsPrograms() throws Exception {
    CapsuleFixture f = new CapsuleFixture("gone");
    RecordWithBody r1 = capsule(f, 2);
    CapsuleFixture g = new CapsuleFixture("gone-new");
    Client c = open();
    c.sendAll(1, create(g), TestHost.withdrawal(account, table, BUDGET), 1 << 20);
    assertTrue(c.next(1).getResponse().hasResult());
    assertTrue(c.next(1).getResponse().hasProposal());
    ProgramBuilder read = reads(f, r1, 0);
    c.send(2, TestHost.header(read.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 10));
    c.send(2, TestHost.data(read.bytes(), 0, 10));
    Await.until("both programs hold their budgets", () -> t.host.programsInFlight() == 2);
    c.requests.cancel("the renter goes away", null);
    Await.until("both programs are released", () -> t.host.programsInFlight() == 0);
    assertEquals(Status.Code.CANCELLED, c.status().getCode());
    // The pending commit was discarded: the capsule can be created now.
    Run again = t.run(create(g), table, account, BUDGET, 1 << 20, true);
    assertEquals(Status.Code.OK, again.status().getCode(), again.status().toString());
  }
}
