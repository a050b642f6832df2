package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static dev.capsulevm.renter.EndToEndTest.subRecords;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** {@link CapsuleWriter#submitAppend}: several appends in flight for one capsule, against a real host. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PipelinedAppendTest {
  private static final int MAX_SUB_RECORD_BYTES = 64;
  @TempDir static Path dir;
  private TestHost host;
  private HostClient client;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    client = fundedClient(host, 1000);
  }

  @AfterAll
  void stop() throws Exception {
    client.close();
    host.close();
  }

  private CapsuleWriter newCapsule(SigningPolicy policy) throws RenterException {
    return newCapsule(client, policy);
  }

  private static CapsuleWriter newCapsule(HostClient by, SigningPolicy policy) throws RenterException {
    return CapsuleWriter.create(by, SigningKey.generate(), SigningKey.generate(), policy, 64,
        MAX_SUB_RECORD_BYTES, "pipeline");
  }

  private static List<List<byte[]>> one(String text) {
    return List.of(subRecords(text, 1));
  }

  /** What a fresh reader of the capsule finds: its heads, verified. */
  private List<Record> headsSeenByAnotherWriter(CapsuleWriter writer) throws RenterException {
    CapsuleWriter other = new CapsuleWriter(writer.metadata(), writer.writerKey(), List.of(), List.of());
    return other.refreshHeads(client);
  }

  private boolean held(CapsuleWriter writer, Hash record) throws RenterException {
    ProgramBuilder b = writer.newProgram(client);
    int has = b.has(record);
    return ((Output.Has) client.run(b.build()).output(has).output()).held();
  }

  @Test
  void appendsInFlightTogetherCommitInOrderAsOneChain() throws Exception {
    CapsuleWriter writer = newCapsule(SigningPolicy.HEARTBEAT);
    writer.append(client, subRecords("before", 1));
    List<PendingAppend> pending = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      pending.add(writer.submitAppend(client, i % 3 == 0 ? List.of(subRecords("p" + i, 1), subRecords("q" + i, 2))
          : one("p" + i)));
    }
    assertEquals(12, writer.pendingAppends(), "every append was sent before any was settled");

    // settling the last settles every earlier one, oldest first
    List<RecordWithBody> last = pending.get(11).result();
    assertEquals(0, writer.pendingAppends());
    Hash parent = Objects.requireNonNull(writer.highestHead()).hash();
    long height = 1;
    Hash previous = null;
    for (PendingAppend p : pending) {
      assertTrue(p.isSettled() && p.isCommitted(), p.toString());
      assertNull(p.failureOrNull());
      RecordHeader first = p.records().get(0).record().header();
      if (previous != null) {
        assertEquals(List.of(previous), first.parents(), "chained on the previous pending append's last record");
      }
      for (RecordWithBody r : p.records()) {
        assertEquals(++height, r.record().header().height());
      }
      previous = p.lastRecord();
    }
    // the appends of one flight share its program, whose commit left the flight's last record as the head
    for (int i = 0; i < pending.size(); i++) {
      ProgramResult shared = Objects.requireNonNull(pending.get(i).programResultOrNull());
      int end = i;
      while (end + 1 < pending.size() && pending.get(end + 1).programResultOrNull() == shared) {
        end++;
      }
      assertEquals(List.of(pending.get(end).lastRecord()), shared.committedHeads());
      i = end;
    }
    assertEquals(pending.get(11).lastRecord(), parent);
    assertEquals(last, pending.get(11).records());
    assertEquals(List.of(parent), headsSeenByAnotherWriter(writer).stream().map(Record::hash).toList());

    // and the writer goes on appending the ordinary way
    RecordWithBody next = writer.append(client, subRecords("after", 1)).get(0);
    assertEquals(List.of(parent), next.record().header().parents());
  }

  @Test
  void aFailureInTheMiddleFailsTheAppendsBuiltOnItAndAppliesNothingOfThem() throws Exception {
    CapsuleWriter writer = newCapsule(SigningPolicy.HEARTBEAT);
    PendingAppend a = writer.submitAppend(client, one("a"));
    // the capsule's metadata allows sub-records of at most 64 bytes: the host refuses b's record
    PendingAppend b = writer.submitAppend(client, List.of(List.of(new byte[MAX_SUB_RECORD_BYTES + 1])));
    PendingAppend c = writer.submitAppend(client, one("c"));
    PendingAppend d = writer.submitAppend(client, one("d"));

    AppendDependencyException dOutcome = assertThrows(AppendDependencyException.class, d::result);
    assertEquals(List.of(a.records()), List.of(a.result()));
    ProgramFailedException bOutcome = assertThrows(ProgramFailedException.class, b::result);
    assertEquals(ProgramFailedException.Reason.INVALID_INPUT, bOutcome.reason());
    assertEquals(0, bOutcome.instructionIndex(), "b ran, and the host refused its append");
    AppendDependencyException cOutcome = assertThrows(AppendDependencyException.class, c::result);

    assertEquals(c.sequence(), cOutcome.sequence());
    assertEquals(b.sequence(), cOutcome.dependedOn());
    assertEquals(b.lastRecord(), cOutcome.dependedOnRecord());
    assertSame(bOutcome, cOutcome.getCause());
    assertTrue(cOutcome.getMessage().contains("append #" + b.sequence()), cOutcome.getMessage());
    assertEquals(c.sequence(), dOutcome.dependedOn());
    assertEquals(c.lastRecord(), dOutcome.dependedOnRecord());
    assertFalse(b.isCommitted() || c.isCommitted() || d.isCommitted());

    // nothing of b, c or d is in the capsule; the writer's head is a's record, as the host's is
    for (PendingAppend p : List.of(b, c, d)) {
      assertFalse(held(writer, p.lastRecord()), p.toString());
    }
    assertEquals(List.of(a.lastRecord()), writer.heads().stream().map(Record::hash).toList());
    assertEquals(List.of(a.lastRecord()), headsSeenByAnotherWriter(writer).stream().map(Record::hash).toList());

    // a new pipeline builds on what committed
    PendingAppend e = writer.submitAppend(client, one("e"));
    assertEquals(List.of(a.lastRecord()), e.records().get(0).record().header().parents());
    e.result();
    assertTrue(e.isCommitted());
  }

  @Test
  void anAppendRefusedBeforeItRanHoldsBackTheOnesBuiltOnIt() throws Exception {
    SigningKey account = SigningKey.generate();
    Accounts.fund(host, account, 1000);
    FakeScheduler scheduler = new FakeScheduler(); // the SDK's back-offs before retrying a refusal, not waited
    try (HostClient patient = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withScheduler(scheduler))) {
      CapsuleWriter writer = CapsuleWriter.create(patient, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.HEARTBEAT, 64, MAX_SUB_RECORD_BYTES, "held back");
      PendingAppend a = writer.submitAppend(patient, one("a"));
      PendingAppend b = writer.submitAppend(patient, one("b"), Amount.of(1)); // the host refuses to start it
      PendingAppend c = writer.submitAppend(patient, one("c"));

      RenterException first = assertThrows(RenterException.class, writer::awaitAppends);
      assertTrue(a.isCommitted());
      assertSame(b.failureOrNull(), first);
      assertTrue(first.getMessage().contains("BUDGET_EXCEEDED"), first.getMessage());
      AppendDependencyException held = assertInstanceOf(AppendDependencyException.class, c.failureOrNull());
      assertEquals(b.sequence(), held.dependedOn());
      assertEquals(0, held.getSuppressed().length, "c was never sent: the host had nothing to refuse");
      assertEquals(List.of(a.lastRecord()), writer.heads().stream().map(Record::hash).toList());
    }
  }

  @Test
  void anAppendHeldBackGivesBackThePaymentPreparedForIt() throws Exception {
    SigningKey account = SigningKey.generate();
    Accounts.fund(host, account, 1000);
    try (HostClient paying = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withScheduler(new FakeScheduler()).withSession(Amount.ofCap(50)))) {
      CapsuleWriter writer = CapsuleWriter.create(paying, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.HEARTBEAT, 64, MAX_SUB_RECORD_BYTES, "prepared");
      PendingAppend a = writer.submitAppend(paying, one("a"));
      PaymentSessions.Session session = Objects.requireNonNull(
          Objects.requireNonNull(paying.sessionsOrNull()).currentOrNull(), "a was paid by a ticket");
      PendingAppend b = writer.submitAppend(paying, one("b"), Amount.of(1)); // the host refuses to start it
      PendingAppend c = writer.submitAppend(paying, one("c")); // its ticket is taken now, before it is sent

      assertThrows(RenterException.class, writer::awaitAppends);
      assertTrue(a.isCommitted());
      assertInstanceOf(AppendDependencyException.class, c.failureOrNull());
      assertEquals(0, session.inFlight(), "c was never sent: its ticket went back to the session");
    }
  }

  @Test
  void aRunPreparedAheadIsSentAsItIsOnlyWhileItsTableAndPaymentAreFresh() throws Exception {
    SigningKey account = SigningKey.generate();
    Accounts.fund(host, account, 1000);
    SettableClock clock = new SettableClock(Instant.now());
    Instant prepared = clock.instant();
    CapsuleWriter writer = newCapsule(SigningPolicy.HEARTBEAT);
    RecordWithBody head = writer.append(client, subRecords("head", 1)).get(0);
    try (HostClient ahead = HostClient.connect(host.address(), account, RenterOptions.defaults().withClock(clock))) {
      ProgramBuilder b = writer.newProgram(ahead);
      int has = b.has(head.hash());
      ProgramRun run = ahead.prepare(b.build(), null, index -> { });
      Duration half = ahead.options().withdrawalLifetime().dividedBy(2);

      clock.set(prepared.plus(half).minusSeconds(1));
      assertTrue(ahead.stillSendable(run));
      clock.set(prepared.plus(half));
      assertFalse(ahead.stillSendable(run), "its withdrawal is half way to its expiry");
      clock.set(run.table().validUntil().minusSeconds(10));
      assertFalse(ahead.stillSendable(run), "its price table is about to end");

      clock.set(prepared.plusSeconds(1));
      assertTrue(ahead.stillSendable(run));
      ahead.send(run);
      assertTrue(((Output.Has) run.result().output(has).output()).held(), "sent later, verified as always");
    }
  }

  /** Holds every response of the Execute calls started after it is set until {@link #open}. */
  private static final class Gate implements Tamper.Mutation {
    private final CountDownLatch opened = new CountDownLatch(1);

    /** A gate on the Execute calls {@code tamper} sees from now on. */
    static Gate on(Tamper tamper) {
      Gate gate = new Gate();
      tamper.set(gate);
      return gate;
    }

    void open() {
      opened.countDown();
    }

    @Override
    public ExecuteResponse apply(int position, ExecuteResponse response) {
      try {
        opened.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return response;
    }
  }

  @Test
  void theAppendsSubmittedWhileAFlightIsOnItsWayLeaveTogetherInTheNext() throws Exception {
    Tamper tamper = new Tamper();
    try (HostClient gated = fundedClient(host, 100, tamper)) {
      CapsuleWriter writer = newCapsule(gated, SigningPolicy.EVERY_RECORD);
      int calls = tamper.executeCalls.get();
      Gate gate = Gate.on(tamper); // a's output cannot arrive, so b, c and d wait for it
      PendingAppend a = writer.submitAppend(gated, one("a"));
      List<PendingAppend> rest = List.of(writer.submitAppend(gated, one("b")),
          writer.submitAppend(gated, List.of(subRecords("c", 1), subRecords("c2", 2))),
          writer.submitAppend(gated, one("d")));
      assertEquals(calls + 1, tamper.executeCalls.get(), "only a was sent");
      gate.open();

      rest.get(2).result();
      assertEquals(calls + 2, tamper.executeCalls.get(), "b, c and d went in one program");
      ProgramResult flight = Objects.requireNonNull(rest.get(0).programResultOrNull());
      assertTrue(a.isCommitted() && a.programResultOrNull() != flight);
      for (PendingAppend p : rest) {
        assertTrue(p.isCommitted(), p.toString());
        assertSame(flight, p.programResultOrNull());
      }
      assertEquals(List.of(rest.get(2).lastRecord()), flight.committedHeads());
      assertEquals(5, Objects.requireNonNull(writer.highestHead()).height(), "a, b, c's two records and d");
      for (PendingAppend p : rest) {
        assertTrue(held(writer, p.lastRecord()), p.toString());
      }
      assertEquals(List.of(rest.get(2).lastRecord()),
          headsSeenByAnotherWriter(writer).stream().map(Record::hash).toList());
    }
  }

  @Test
  void aFlightThatWritesNothingRunsItsAppendsOneByOneForAnOutcomeEach() throws Exception {
    Tamper tamper = new Tamper();
    try (HostClient gated = fundedClient(host, 100, tamper)) {
      CapsuleWriter writer = newCapsule(gated, SigningPolicy.HEARTBEAT);
      int calls = tamper.executeCalls.get();
      Gate gate = Gate.on(tamper);
      PendingAppend a = writer.submitAppend(gated, one("a"));
      PendingAppend b = writer.submitAppend(gated, one("b"));
      // the capsule's metadata allows sub-records of at most 64 bytes: the host refuses c's record, and with
      // it the whole flight of b, c and d
      PendingAppend c = writer.submitAppend(gated, List.of(List.of(new byte[MAX_SUB_RECORD_BYTES + 1])));
      PendingAppend d = writer.submitAppend(gated, one("d"));
      gate.open();

      assertThrows(RenterException.class, writer::awaitAppends);
      // a's flight, the refused flight, then b alone and c alone; d was not sent again: c failed
      assertEquals(calls + 4, tamper.executeCalls.get());
      assertTrue(a.isCommitted() && b.isCommitted(), "b ran again alone and committed");
      ProgramFailedException cOutcome = assertInstanceOf(ProgramFailedException.class, c.failureOrNull());
      assertEquals(ProgramFailedException.Reason.INVALID_INPUT, cOutcome.reason());
      assertTrue(cOutcome.getMessage().contains("record 0 of the append"), "c's own refusal: " + cOutcome.getMessage());
      AppendDependencyException dOutcome = assertInstanceOf(AppendDependencyException.class, d.failureOrNull());
      assertEquals(c.sequence(), dOutcome.dependedOn());
      assertSame(cOutcome, dOutcome.getCause());
      assertFalse(held(writer, c.lastRecord()) || held(writer, d.lastRecord()));
      assertEquals(List.of(b.lastRecord()), headsSeenByAnotherWriter(writer).stream().map(Record::hash).toList());
    }
  }

  @Test
  void synchronousOperationsWaitForThePipelineToBeSettled() throws Exception {
    CapsuleWriter writer = newCapsule(SigningPolicy.HEARTBEAT);
    PendingAppend a = writer.submitAppend(client, one("a"));
    IllegalStateException refused = assertThrows(IllegalStateException.class,
        () -> writer.append(client, subRecords("sync", 1)));
    assertTrue(refused.getMessage().contains("1 pipelined append(s) are pending"), refused.getMessage());
    assertThrows(IllegalStateException.class, () -> writer.refreshHeads(client));
    assertFalse(a.isSettled(), "a refused operation settles nothing");

    writer.awaitAppends();
    assertTrue(a.isCommitted());
    writer.append(client, subRecords("sync", 1));
    assertEquals(2, Objects.requireNonNull(writer.highestHead()).height());
  }
}
