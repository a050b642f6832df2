package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fund;
import static dev.capsulevm.renter.EndToEndTest.subRecords;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.ExchangeKey;
import dev.capsulevm.pricing.SealedReceipt;
import dev.capsulevm.pricing.SessionGrant;
import dev.capsulevm.pricing.SignedSessionGrant;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.ProgramMessages;
import dev.capsulevm.proto.v1.CloseSessionRequest;
import dev.capsulevm.proto.v1.CloseSessionResponse;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.OpenSessionResponse;
import dev.capsulevm.renter.evidence.Claim;
import dev.capsulevm.renter.evidence.Evidence;
import dev.capsulevm.renter.evidence.EvidenceVerifier;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Payment sessions ({@link RenterOptions#withSession}) against a real host: programs paid by tickets cost
 * exactly what their verified receipts say, a session whose remainder cannot pay the next program is
 * closed and a new one opened, a host that forgot the session (a restart) gets a new one transparently,
 * closing the client releases the rest, and a grant or receipt changed on the way is refused.
 */
class SessionTest {
  private static final long FUNDS_CAP = 1_000;

  @TempDir Path dir;
  private TestHost host;
  /** Where every call of the clients goes: the current host (a restart replaces it). */
  private final Redirect redirect = new Redirect();
  private final Payments payments = new Payments();
  private final AtomicLong receiptCosts = new AtomicLong();
  private final AtomicInteger receipts = new AtomicInteger();
  private final SigningKey account = SigningKey.generate();

  @BeforeEach
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    redirect.to(host);
    fund(host, account, FUNDS_CAP);
  }

  @AfterEach
  void stop() {
    redirect.close();
    host.close();
  }

  private RenterOptions options(Amount session, ClientInterceptor... more) {
    // The last is called first: the counter sees what the renter sends, the redirect (first) sends it on.
    List<ClientInterceptor> interceptors = new ArrayList<>();
    interceptors.add(redirect);
    interceptors.addAll(List.of(more));
    interceptors.add(payments);
    return RenterOptions.defaults().withSession(session).withInterceptors(interceptors)
        .withReceiptListener((program, receipt) -> {
          receiptCosts.addAndGet(receipt.receipt().finalCost().units());
          receipts.incrementAndGet();
        });
  }

  private HostClient client(Amount session, ClientInterceptor... more) {
    return HostClient.connect(host.address(), account, options(session, more));
  }

  /** The account's balance, read by a client without a session (a balance costs nothing). */
  private long balance() throws RenterException {
    try (HostClient plain = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withInterceptors(List.of(redirect)))) {
      return plain.balance().units();
    }
  }

  private static CapsuleWriter create(HostClient client) throws RenterException {
    return CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD, 64,
        256, "session");
  }

  private static Output.SubRecord read(HostClient client, CapsuleWriter writer, RecordWithBody record)
      throws RenterException {
    ProgramBuilder b = writer.newProgram(client);
    int read = b.readSubRecord(record.hash(), 0, writer.heads().get(0).header());
    return (Output.SubRecord) client.run(b.build()).output(read).output();
  }

  @Test
  void manyProgramsThroughOneSessionCostExactlyWhatTheirReceiptsSayAndClosingReleasesTheRest() throws Exception {
    long before = balance();
    HostClient client = client(Amount.ofCap(50));
    PaymentSessions.Session session;
    try {
      CapsuleWriter writer = create(client);
      List<RecordWithBody> appended = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        appended.addAll(writer.append(client, subRecords("r" + i, 1)));
      }
      for (RecordWithBody r : appended) {
        assertNotNull(read(client, writer, r).payload());
      }
      PaymentSessions sessions = client.sessionsOrNull();
      assertEquals(1, sessions.opened(), "one session paid for every program");
      session = sessions.currentOrNull();
      assertEquals(0, session.inFlight());
      assertEquals(Amount.ofCap(50).units() - receiptCosts.get(), session.remainder().units(),
          "the renter's remainder is the amount less what the receipts say");
    } finally {
      client.close();
    }
    CloseSessionResponse closed = session.closeAnswer.get(10, TimeUnit.SECONDS);
    assertEquals(21, receipts.get(), "a create, ten appends, ten reads");
    assertEquals(21, payments.tickets.get());
    assertEquals(0, payments.withdrawals.get(), "no program paid by a withdrawal");
    assertEquals(21, closed.getPrograms());
    assertEquals(receiptCosts.get(), closed.getCharged());
    assertEquals(Amount.ofCap(50).units() - receiptCosts.get(), closed.getReleased());
    assertEquals(before - receiptCosts.get(), balance(), "charged exactly the receipts' costs, the rest released");
  }

  @Test
  void aRemainderThatCannotPayTheNextProgramOpensASecondSession() throws Exception {
    long before = balance();
    CapsuleWriter writer;
    Amount small;
    try (HostClient probe = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withInterceptors(List.of(redirect)))) {
      writer = create(probe);
      writer.append(probe, subRecords("first", 1));
      // room for three and a half appends' budgets: each session pays for three
      Amount budget = writer.lastResult().receipt().budget();
      small = Amount.of(budget.units() * 7 / 2);
    }
    long plainCost = before - balance();
    try (HostClient client = client(small)) {
      for (int i = 0; i < 7; i++) {
        writer.append(client, subRecords("s" + i, 1));
      }
      assertEquals(3, client.sessionsOrNull().opened(), "three appends per session");
    }
    assertEquals(7, payments.tickets.get());
    assertEquals(before - plainCost - receiptCosts.get(), balance(),
        "every session charged its receipts and released the rest");
  }

  @Test
  void aProgramAboveTheSessionAmountIsPaidByItsOwnWithdrawal() throws Exception {
    try (HostClient client = client(Amount.of(1))) {
      CapsuleWriter writer = create(client);
      writer.append(client, subRecords("big", 1));
      assertEquals(0, client.sessionsOrNull().opened());
    }
    assertEquals(0, payments.tickets.get());
    assertEquals(2, payments.withdrawals.get());
  }

  @Test
  void aHostThatRestartedAndForgotTheSessionGetsANewOneAndTheProgramRunsOnce() throws Exception {
    try (HostClient client = client(Amount.ofCap(50))) {
      CapsuleWriter writer = create(client);
      writer.append(client, subRecords("before", 1));
      Hash firstSession = client.sessionsOrNull().currentOrNull().id;

      host.close();
      host = new TestHost(TestHost.config(dir)); // same data, same key; no session survives
      redirect.to(host);

      RecordWithBody after = writer.append(client, subRecords("after", 1)).get(0);
      assertEquals("after 0", new String(read(client, writer, after).payload(), StandardCharsets.UTF_8));
      PaymentSessions.Session second = client.sessionsOrNull().currentOrNull();
      assertNotEquals(firstSession, second.id);
      assertEquals(2, client.sessionsOrNull().opened());
    }
  }

  /** The host closes the session behind the renter's back: the next program is refused NOT_FOUND, then resent. */
  @Test
  void aSessionTheHostNoLongerKnowsIsReplacedAndTheRefusedProgramResentOnce() throws Exception {
    try (HostClient client = client(Amount.ofCap(50))) {
      CapsuleWriter writer = create(client);
      PaymentSessions.Session first = client.sessionsOrNull().currentOrNull();
      ManagedChannel channel = ManagedChannelBuilder.forTarget(host.address()).usePlaintext().build();
      try {
        HostGrpc.newBlockingStub(channel).closeSession(CloseSessionRequest.newBuilder()
            .setSessionId(ByteString.copyFrom(first.id.toByteArray()))
            .setMac(ByteString.copyFrom(first.key.closeMac(first.id))).build());
      } finally {
        channel.shutdownNow();
      }
      writer.append(client, subRecords("after", 1));
      assertEquals(2, client.sessionsOrNull().opened());
      assertEquals(3, payments.tickets.get(), "the create, the refused append, and the append resent");
      assertEquals(2, receipts.get(), "the refused append ran nowhere");
      assertNull(first.closeAnswer, "a session the host forgot is not closed again");
    }
  }

  @Test
  void concurrentProgramsShareOneSession() throws Exception {
    long before = balance();
    try (HostClient client = client(Amount.ofCap(100))) {
      CapsuleWriter writer = create(client);
      RecordWithBody record = writer.append(client, subRecords("shared", 1)).get(0);
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<Future<Output.SubRecord>> reads = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
          reads.add(pool.submit(() -> read(client, writer, record)));
        }
        for (Future<Output.SubRecord> f : reads) {
          assertNotNull(f.get(60, TimeUnit.SECONDS).payload());
        }
      } finally {
        pool.shutdownNow();
      }
      assertEquals(1, client.sessionsOrNull().opened());
      assertEquals(66, payments.tickets.get());
    }
    assertEquals(before - receiptCosts.get(), balance());
  }

  @Test
  void pipelinedAppendsArePaidByTickets() throws Exception {
    try (HostClient client = client(Amount.ofCap(50))) {
      CapsuleWriter writer = create(client);
      List<PendingAppend> pending = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        pending.add(writer.submitAppend(client, List.of(subRecords("p" + i, 1))));
      }
      pending.get(7).result();
      Set<ProgramResult> programs = Collections.newSetFromMap(new IdentityHashMap<>());
      for (PendingAppend p : pending) {
        assertTrue(p.isCommitted(), p.toString());
        programs.add(Objects.requireNonNull(p.programResultOrNull()));
      }
      assertEquals(1, client.sessionsOrNull().opened());
      // the capsule's creation, then one program per flight of appends
      assertEquals(1 + programs.size(), payments.tickets.get());
    }
  }

  /** 0: the session id; 40: the host's exchange key; 80: the signature. */
  @ParameterizedTest
  @ValueSource(ints = {0, 40, 80})
  void aGrantChangedOnTheWayIsRefusedAndNoProgramIsSent(int offset) throws Exception {
    Tamper tamper = new Tamper();
    tamper.setOpenSession(r -> flip(r, 1 + offset));
    try (HostClient client = client(Amount.ofCap(50), tamper)) {
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, () -> create(client));
      assertEquals(HostMisbehaviourException.Part.SESSION, e.part());
      assertEquals(1, tamper.changed.get());
      assertEquals(0, tamper.executeCalls.get(), "no program was sent");
      assertNull(client.sessionsOrNull().currentOrNull());
    }
  }

  @Test
  void aGrantFromAnotherHostKeyIsRefused() throws Exception {
    Tamper tamper = new Tamper();
    SigningKey other = SigningKey.generate();
    tamper.setOpenSession(r -> {
      try {
        SessionGrant grant = SignedSessionGrant.parse(r.getSignedSessionGrant().toByteArray()).grant();
        return r.toBuilder().setSignedSessionGrant(ByteString.copyFrom(new SessionGrant(grant.sessionId(),
            ExchangeKey.copyOf(grant.exchangeKey().toByteArray())).sign(other).encode())).build();
      } catch (dev.capsulevm.proofs.VerificationException e) {
        throw new IllegalStateException(e);
      }
    });
    try (HostClient client = client(Amount.ofCap(50), tamper)) {
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, () -> create(client));
      assertEquals(HostMisbehaviourException.Part.SESSION, e.part());
      assertEquals(0, tamper.executeCalls.get());
    }
  }

  @Test
  void aReceiptChangedOnTheWayIsRefusedInASessionAsWithout() throws Exception {
    Tamper tamper = new Tamper();
    try (HostClient client = client(Amount.ofCap(50), tamper)) {
      CapsuleWriter writer = create(client);
      RecordWithBody record = writer.append(client, subRecords("x", 1)).get(0);
      // a byte of the receipt's program id (which covers the ticket): its signature no longer verifies
      tamper.set((position, response) -> response.hasEnd() ? flipReceipt(response, 50) : response);
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, () -> read(client, writer, record));
      assertEquals(HostMisbehaviourException.Part.RECEIPT, e.part());
      assertEquals(1, tamper.changed.get());
      tamper.clear();
      assertNotNull(read(client, writer, record).payload(), "the session pays on");
    }
  }

  @Test
  void readsOfSubRecordsGetSealedReceipts_everyOtherProgramASignedOne_andEachCostsWhatItSays() throws Exception {
    CapsuleWriter writer;
    RecordWithBody record;
    try (HostClient plain = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withInterceptors(List.of(redirect)))) {
      writer = create(plain);
      record = writer.append(plain, subRecords("x", 1)).get(0);
    }
    long before = balance();
    long charged = 0;
    try (HostClient client = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withSession(Amount.ofCap(50)).withInterceptors(List.of(redirect, payments)))) {
      ProgramBuilder reads = writer.newProgram(client);
      int read = reads.readSubRecord(record.hash(), 0, writer.heads().get(0).header());
      ProgramResult sealed = client.run(reads.build());
      assertFalse(sealed.isReceiptSigned(), "a read of sub-records asks for a sealed receipt");
      assertThrows(IllegalStateException.class, sealed::signedReceipt);
      assertEquals("x 0", new String(((Output.SubRecord) sealed.output(read).output()).payload(), StandardCharsets.UTF_8));
      charged += sealed.receipt().finalCost().units();
      ProgramBuilder heads = writer.newProgram(client);
      heads.heads();
      ProgramResult signed = client.run(heads.build());
      assertTrue(signed.isReceiptSigned(), "a Heads output can be evidence: its receipt is signed");
      charged += signed.receipt().finalCost().units();
      assertEquals(2, payments.tickets.get(), "both paid from the session");
    }
    assertEquals(before - charged, balance(), "the account paid exactly what the two receipts say");
  }

  @Test
  void aSealedReceiptChangedOnTheWayIsRefused_anywhereInItsBytes() throws Exception {
    Tamper tamper = new Tamper();
    try (HostClient client = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withSession(Amount.ofCap(50)).withInterceptors(List.of(redirect, tamper)))) {
      CapsuleWriter writer = create(client);
      RecordWithBody record = writer.append(client, subRecords("x", 1)).get(0);
      int length = client.run(readProgram(client, writer, record)).receipt().body().length
          + SealedReceipt.SEAL_LENGTH;
      for (int index = 0; index < length; index += 7) {
        int at = index;
        tamper.set((position, response) -> response.hasEnd() ? flipSealed(response, at) : response);
        HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class,
            () -> client.run(readProgram(client, writer, record)), "byte " + at);
        assertEquals(HostMisbehaviourException.Part.RECEIPT, e.part(), "byte " + at);
      }
      // A signed receipt in place of the sealed one asked for is refused too.
      tamper.set((position, response) -> response.hasEnd() ? response.toBuilder().setEnd(response.getEnd().toBuilder()
          .setSignedReceipt(ByteString.copyFrom(new byte[1]))).build() : response);
      assertEquals(HostMisbehaviourException.Part.RECEIPT, assertThrows(HostMisbehaviourException.class,
          () -> client.run(readProgram(client, writer, record))).part());
      tamper.clear();
      assertFalse(client.run(readProgram(client, writer, record)).isReceiptSigned(), "the session pays on");
    }
  }

  @Test
  void appendsGetSealedReceiptsAtMostSealedAppendsInARow_thenASignedOneVouchesForTheirHeads() throws Exception {
    try (HostClient client = sessionClient(RenterOptions.defaults().withSealedAppends(2))) {
      CapsuleWriter writer = create(client);
      StringBuilder receipts = new StringBuilder();
      for (int i = 0; i < 7; i++) {
        writer.append(client, subRecords("a" + i, 1));
        ProgramResult result = Objects.requireNonNull(writer.lastResult());
        receipts.append(result.isReceiptSigned() ? 'S' : 's');
        Hash head = writer.heads().get(0).hash();
        assertEquals(result.isReceiptSigned(), writer.claimOrNull(head) != null,
            "a signed receipt is the head's claim; a sealed one is none");
      }
      assertEquals("ssSssSs", receipts.toString(), "two sealed, then one signed, which vouches for them");
      // A Heads output vouches for the head on demand.
      writer.refreshHeads(client);
      assertNotNull(writer.claimOrNull(writer.heads().get(0).hash()));
    }
    // No leave to seal, or a receipt listener (which keeps receipts): every write's receipt is signed.
    for (RenterOptions options : List.of(RenterOptions.defaults().withSealedAppends(0),
        RenterOptions.defaults().withReceiptListener((program, receipt) -> { }))) {
      try (HostClient client = sessionClient(options)) {
        CapsuleWriter writer = create(client);
        for (int i = 0; i < 3; i++) {
          writer.append(client, subRecords("b" + i, 1));
          assertTrue(Objects.requireNonNull(writer.lastResult()).isReceiptSigned());
        }
      }
    }
  }

  @Test
  void aSealedAppendReceiptChangedOnTheWayIsRefused_theWriteIsKept_andTheNextAppendIsSigned() throws Exception {
    Tamper tamper = new Tamper();
    try (HostClient client = sessionClient(RenterOptions.defaults().withSealedAppends(4), tamper)) {
      CapsuleWriter writer = create(client);
      writer.append(client, subRecords("x", 1));
      assertFalse(Objects.requireNonNull(writer.lastResult()).isReceiptSigned());
      AtomicInteger ends = new AtomicInteger();
      // Only the append's end: the renter then asks for the heads, whose end (signed) arrives intact.
      tamper.set((position, response) -> response.hasEnd() && ends.getAndIncrement() == 0
          ? flipSealed(response, 60) : response);
      WriteCommittedException e = assertThrows(WriteCommittedException.class,
          () -> writer.append(client, subRecords("y", 1)));
      assertEquals(HostMisbehaviourException.Part.RECEIPT, e.misbehaviour().part());
      assertEquals(1, tamper.changed.get());
      tamper.clear();
      Hash committed = e.committedHeads().get(0).hash();
      assertEquals(committed, writer.heads().get(0).hash(), "the writer holds the verified heads");
      writer.append(client, subRecords("z", 1));
      assertTrue(Objects.requireNonNull(writer.lastResult()).isReceiptSigned(),
          "after a failed end, the next append asks for a signed receipt, which vouches for what came before");
    }
  }

  @Test
  void pipelinedFlightsSealTheirReceiptsWithinTheSameBound() throws Exception {
    try (HostClient client = sessionClient(RenterOptions.defaults().withSealedAppends(3))) {
      CapsuleWriter writer = create(client);
      List<PendingAppend> pending = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        pending.add(writer.submitAppend(client, List.of(subRecords("p" + i, 1))));
      }
      writer.awaitAppends();
      int inARow = 0;
      int sealed = 0;
      ProgramResult previous = null;
      for (PendingAppend p : pending) {
        ProgramResult result = Objects.requireNonNull(p.programResultOrNull());
        if (result == previous) {
          continue; // the same flight
        }
        int appends = (int) pending.stream().filter(q -> q.programResultOrNull() == result).count();
        inARow = result.isReceiptSigned() ? 0 : inARow + appends;
        sealed += result.isReceiptSigned() ? 0 : 1;
        assertTrue(inARow <= 3, "at most three appends in a row without a signed receipt, got " + inARow);
        previous = result;
      }
      assertTrue(sealed > 0, "the first flight (one append) has a sealed receipt");
    }
  }

  /**
   * A host that serves an older copy of the capsule (same key, same data up to then: a rollback). While
   * the writer's newest head has only a sealed receipt the rollback is caught without evidence; once a
   * signed receipt vouched for the head, it is caught with evidence that verifies offline.
   */
  @Test
  void aRollbackOfSealedAppendsIsCaughtWithoutEvidence_andWithEvidenceOnceASignedReceiptVouches(
      @TempDir Path copy) throws Exception {
    try (HostClient client = sessionClient(RenterOptions.defaults().withSealedAppends(2))) {
      CapsuleWriter writer = create(client);
      writer.append(client, subRecords("a0", 1));
      host.close();
      copyTree(dir, copy); // what the lying host serves: the capsule up to a0
      host = new TestHost(TestHost.config(dir));
      redirect.to(host);
      for (int i = 1; i <= 3; i++) {
        writer.append(client, subRecords("a" + i, 1)); // a1 sealed, a2 signed, a3 sealed
      }
      assertNull(writer.claimOrNull(writer.heads().get(0).hash()), "a3's receipt was sealed");
      try (TestHost stale = new TestHost(TestHost.config(copy))) {
        redirect.to(stale);
        HostMisbehaviourException caught = assertThrows(HostMisbehaviourException.class,
            () -> writer.refreshHeads(client));
        assertTrue(caught.getMessage().contains("so no evidence"), caught.getMessage());

        redirect.to(host);
        writer.append(client, subRecords("a4", 1)); // sealed
        writer.append(client, subRecords("a5", 1)); // signed: vouches for a3, a4 and a5
        Hash a5 = writer.heads().get(0).hash();
        assertTrue(writer.claimOrNull(a5) instanceof Claim.CommittedHeads);
        redirect.to(stale);
        RollbackException rollback = assertThrows(RollbackException.class, () -> writer.refreshHeads(client));
        EvidenceVerifier.Finding proven = EvidenceVerifier.verify(Evidence.parse(rollback.evidence().encode()),
            writer.capsuleId());
        assertEquals(Evidence.Kind.ROLLBACK, proven.kind());
        assertEquals(a5, proven.record());
      }
    }
  }

  private static void copyTree(Path from, Path to) throws java.io.IOException {
    try (Stream<Path> walk = Files.walk(from)) {
      for (Path source : walk.toList()) {
        Path target = to.resolve(from.relativize(source).toString());
        if (Files.isDirectory(source)) {
          Files.createDirectories(target);
        } else {
          Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  /** A client paying from a session, without a receipt listener unless {@code options} has one. */
  private HostClient sessionClient(RenterOptions options, ClientInterceptor... more) {
    List<ClientInterceptor> interceptors = new ArrayList<>();
    interceptors.add(redirect);
    interceptors.addAll(List.of(more));
    return HostClient.connect(host.address(), account,
        options.withSession(Amount.ofCap(50)).withInterceptors(interceptors));
  }

  private static PreparedProgram readProgram(HostClient client, CapsuleWriter writer, RecordWithBody record) {
    ProgramBuilder b = writer.newProgram(client);
    b.readSubRecord(record.hash(), 0, writer.heads().get(0).header());
    return b.build();
  }

  private static ExecuteResponse flipSealed(ExecuteResponse end, int index) {
    byte[] bytes = end.getEnd().getSealedReceipt().toByteArray();
    bytes[index] ^= 1;
    return end.toBuilder().setEnd(end.getEnd().toBuilder().setSealedReceipt(ByteString.copyFrom(bytes))).build();
  }

  private static OpenSessionResponse flip(OpenSessionResponse r, int index) {
    byte[] bytes = r.getSignedSessionGrant().toByteArray();
    bytes[index] ^= 1;
    return r.toBuilder().setSignedSessionGrant(ByteString.copyFrom(bytes)).build();
  }

  private static ExecuteResponse flipReceipt(ExecuteResponse end, int index) {
    byte[] bytes = end.getEnd().getSignedReceipt().toByteArray();
    bytes[index] ^= 1;
    return end.toBuilder().setEnd(end.getEnd().toBuilder().setSignedReceipt(ByteString.copyFrom(bytes))).build();
  }

  /** Counts how the program headers sent (on Execute calls and program streams) were paid. */
  static final class Payments implements ClientInterceptor {
    final AtomicInteger tickets = new AtomicInteger();
    final AtomicInteger withdrawals = new AtomicInteger();

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
        CallOptions options, Channel next) {
      ClientCall<ReqT, RespT> call = next.newCall(method, options);
      if (!ProgramMessages.carriesPrograms(method)) {
        return call;
      }
      return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        @Override
        public void sendMessage(ReqT message) {
          super.sendMessage(ProgramMessages.mapRequest(message, Payments.this::count));
        }
      };
    }

    private ExecuteRequest count(ExecuteRequest request) {
      if (request.hasHeader()) {
        boolean ticket = !request.getHeader().getTicket().isEmpty();
        boolean withdrawal = !request.getHeader().getSignedWithdrawal().isEmpty();
        assertTrue(ticket != withdrawal, "exactly one payment in the header");
        (ticket ? tickets : withdrawals).incrementAndGet();
      }
      return request;
    }
  }

  /** Sends every call to the current host's port, whatever address the client was made for. */
  static final class Redirect implements ClientInterceptor, AutoCloseable {
    private volatile @Nullable ManagedChannel target;

    void to(TestHost host) {
      ManagedChannel old = target;
      target = ManagedChannelBuilder.forTarget(host.address()).usePlaintext().maxInboundMessageSize(64 << 20).build();
      if (old != null) {
        old.shutdownNow();
      }
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
        CallOptions options, Channel next) {
      ManagedChannel channel = target;
      return (channel == null ? next : channel).newCall(method, options);
    }

    @Override
    public void close() {
      ManagedChannel channel = target;
      if (channel != null) {
        channel.shutdownNow();
      }
    }
  }
}
