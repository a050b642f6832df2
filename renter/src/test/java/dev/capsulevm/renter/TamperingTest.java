package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static dev.capsulevm.renter.EndToEndTest.subRecords;
import static dev.capsulevm.renter.EndToEndTest.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.testing.Await;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedBalanceStatement;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.BalanceResponse;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.proto.v1.InstructionResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A man in the middle changes the host's answers: it flips bits in every bytes field and adds 1 to every
 * integer field of every host reply (outputs: payload data, proof headers and hashes, record headers,
 * signatures, metadata; index, cost_so_far, max_output_bytes; proposals; receipts, also re-signed by the
 * host's own key with one field changed; committed heads; every Failure field; balance statements and
 * the balance reply; the price table). Every change must end in {@link HostMisbehaviourException}, or be
 * shown harmless with the reason; a write tampered before its decision is never committed, and one
 * tampered after it is reported as committed ({@link WriteCommittedException}) with the writer's heads
 * kept true.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TamperingTest {
  @TempDir static Path dir;
  private TestHost host;
  private final Tamper tamper = new Tamper();
  private HostClient client;
  /** A client of the same tamperer whose writes wait for the host's proposal and confirm it. */
  private HostClient confirming;
  private CapsuleWriter writer;
  private RecordWithBody r1;
  private RecordWithBody r2;
  private RecordWithBody r3;
  private SigningKey hostKey;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    hostKey = host.signingKey();
    client = fundedClient(host, 100_000, tamper);
    confirming = fundedClient(host, 100_000, RenterOptions.defaults().withInterceptors(List.of(tamper))
        .withConfirmCommits(true));
    writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD,
        4096, 64, "tamper");
    r1 = writer.append(client, List.of(utf8("one"))).get(0);
    r2 = writer.append(client, subRecords("kv", 1000)).get(0);
    r3 = writer.append(client, subRecords("three", 3)).get(0);
  }

  @AfterAll
  void stop() throws Exception {
    client.close();
    confirming.close();
    host.close();
  }

  /** Ten read instructions, one per output kind; the first references program data (exact costs). */
  private PreparedProgram reads() {
    RecordHeader head = writer.highestHead();
    ProgramBuilder b = writer.newProgram(client);
    b.readSubRecord(r2.hash(), 777, head);
    b.readSubRecordAtHeight(1, 0, head);
    b.prove(r1.hash(), head);
    b.proveSubRecord(r2.hash(), 5, head, utf8("kv 5"));
    b.has(r1.hash());
    b.readByHash(r3.hash());
    b.heads();
    b.has(Hash.copyOf(new byte[32]));
    b.readByHash(Hash.copyOf(new byte[32]));
    b.metadata();
    return b.build();
  }

  private static final int READS = 10;

  private static ByteString flip(ByteString bytes, int position, int mask) {
    byte[] copy = bytes.toByteArray();
    copy[position] ^= (byte) mask;
    return ByteString.copyFrom(copy);
  }

  /** Up to {@code most} positions spread over {@code length}, first and last included. */
  private static List<Integer> positions(int length, int most) {
    List<Integer> out = new ArrayList<>();
    if (length <= most) {
      for (int i = 0; i < length; i++) {
        out.add(i);
      }
      return out;
    }
    for (int i = 0; i < most; i++) {
      out.add((int) ((long) i * (length - 1) / (most - 1)));
    }
    return out;
  }

  private static UnaryOperator<ExecuteResponse> onResult(UnaryOperator<InstructionResult> change) {
    return r -> r.toBuilder().setResult(change.apply(r.getResult())).build();
  }

  private void expectCaught(String what, Supplier<PreparedProgram> program, int message,
      UnaryOperator<ExecuteResponse> change) {
    expectCaught(client, what, program, message, change);
  }

  private void expectCaught(HostClient by, String what, Supplier<PreparedProgram> program, int message,
      UnaryOperator<ExecuteResponse> change) {
    tamper.set((position, response) -> position == message ? change.apply(response) : response);
    try {
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, () -> by.run(program.get()),
          what + ": the change was not caught");
      assertTrue(tamper.changed.get() > 0, what + ": nothing was changed");
      assertTrue(e.getMessage().startsWith("host misbehaviour"), e.getMessage());
    } finally {
      tamper.clear();
    }
  }

  private List<ExecuteResponse> recordHonest(PreparedProgram program) throws Exception {
    List<ExecuteResponse> seen = new ArrayList<>();
    tamper.set((position, response) -> {
      seen.add(response);
      return response;
    });
    try {
      client.run(program);
    } finally {
      tamper.clear();
    }
    return seen;
  }

  @Test
  void everyOutputByteOfEveryKindIsCaught() throws Exception {
    List<ExecuteResponse> honest = recordHonest(reads());
    assertEquals(READS + 1, honest.size(), "ten outputs and the end");
    int cases = 0;
    for (int m = 0; m < READS; m++) {
      ByteString output = honest.get(m).getResult().getOutput();
      for (int p : positions(output.size(), 32)) {
        int position = p;
        expectCaught("output " + m + " byte " + p, this::reads, m,
            onResult(r -> r.toBuilder().setOutput(flip(r.getOutput(), position, 0x01)).build()));
        cases++;
      }
    }
    assertTrue(cases > 170, "cases: " + cases);
  }

  @Test
  void everyResultFieldIsCaught() {
    for (int m = 0; m < READS; m++) {
      expectCaught("cost_so_far + 1 at " + m, this::reads, m,
          onResult(r -> r.toBuilder().setCostSoFar(r.getCostSoFar() + 1).build()));
      expectCaught("cost_so_far - 1 at " + m, this::reads, m,
          onResult(r -> r.toBuilder().setCostSoFar(r.getCostSoFar() - 1).build()));
      expectCaught("max_output_bytes + 1 at " + m, this::reads, m,
          onResult(r -> r.toBuilder().setMaxOutputBytes(r.getMaxOutputBytes() + 1).build()));
      expectCaught("max_output_bytes - 1 at " + m, this::reads, m,
          onResult(r -> r.toBuilder().setMaxOutputBytes(r.getMaxOutputBytes() - 1).build()));
      expectCaught("max_output_bytes = 1 at " + m, this::reads, m,
          onResult(r -> r.toBuilder().setMaxOutputBytes(1).build()));
      expectCaught("index + 1 at " + m, this::reads, m,
          onResult(r -> r.toBuilder().setIndex(r.getIndex() + 1).build()));
    }
    expectCaught("an output dropped", this::reads, 3, r -> ExecuteResponse.newBuilder().setResult(
        InstructionResult.getDefaultInstance()).build());
  }

  @Test
  void everyReceiptByteAndEveryEndFieldIsCaught() throws Exception {
    List<ExecuteResponse> honest = recordHonest(reads());
    ExecuteResponse end = honest.get(READS);
    ByteString receipt = end.getEnd().getSignedReceipt();
    for (int p = 0; p < receipt.size(); p++) {
      int position = p;
      expectCaught("receipt byte " + p, this::reads, READS, r -> r.toBuilder().setEnd(r.getEnd().toBuilder()
          .setSignedReceipt(flip(r.getEnd().getSignedReceipt(), position, 0x01))).build());
    }
    expectCaught("committed heads on a read", this::reads, READS, r -> r.toBuilder().setEnd(r.getEnd().toBuilder()
        .addCommittedHeads(ByteString.copyFrom(new byte[32]))).build());
    expectCaught("a failure with a successful receipt", this::reads, READS, r -> r.toBuilder().setEnd(r.getEnd()
        .toBuilder().setFailure(Failure.newBuilder().setReason(FailureReason.FAILURE_REASON_NOT_FOUND)
            .setInstruction(3))).build());
  }

  /** A copy of {@code c} with each integer field given, for forging receipts the host then signs. */
  private static Receipt receipt(Receipt c, java.time.Instant issuedAt, Amount budget, int charged, long up,
      long down, CostBreakdown cost, Amount refund, int outputs, Receipt.End end) {
    return new Receipt(c.hostKey(), issuedAt, c.programId(), c.priceTableId(), c.capsuleIdOrNull(), budget, charged,
        up, down, cost, refund, outputs, c.transcriptRoot(), end);
  }

  /**
   * The host's own key signs a receipt with 1 added to one integer field (and whatever else keeps the
   * receipt well-formed): the renter's recomputation catches each. Adding 1 ms to issuedAt is harmless:
   * the renter requires only that the time lies within its clock's window of the run.
   */
  @Test
  void aReceiptWithAnyIntegerOffByOneIsCaughtEvenWhenSignedByTheHost() {
    Amount one = Amount.of(1);
    List<String> names = new ArrayList<>();
    List<UnaryOperator<Receipt>> changes = new ArrayList<>();
    for (int part = 0; part < 4; part++) {
      int which = part;
      names.add("cost part " + part + " + 1");
      changes.add(c -> {
        CostBreakdown k = c.cost();
        CostBreakdown changed = new CostBreakdown(
            which == 0 ? k.instruction().plus(one) : k.instruction(),
            which == 1 ? k.bandwidth().plus(one) : k.bandwidth(),
            which == 2 ? k.memory().plus(one) : k.memory(),
            which == 3 ? k.storage().plus(one) : k.storage());
        return receipt(c, c.issuedAt(), c.budget(), c.instructionsCharged(), c.uploadBytes(), c.downloadBytes(),
            changed, c.refund().minus(one), c.outputCount(), c.end());
      });
    }
    names.add("budget + 1 (refund + 1)");
    changes.add(c -> receipt(c, c.issuedAt(), c.budget().plus(one), c.instructionsCharged(), c.uploadBytes(),
        c.downloadBytes(), c.cost(), c.refund().plus(one), c.outputCount(), c.end()));
    names.add("instructionsCharged + 1");
    changes.add(c -> receipt(c, c.issuedAt(), c.budget(), c.instructionsCharged() + 1, c.uploadBytes(),
        c.downloadBytes(), c.cost(), c.refund(), c.outputCount(), c.end()));
    names.add("uploadBytes + 1");
    changes.add(c -> receipt(c, c.issuedAt(), c.budget(), c.instructionsCharged(), c.uploadBytes() + 1,
        c.downloadBytes(), c.cost(), c.refund(), c.outputCount(), c.end()));
    names.add("downloadBytes + 1");
    changes.add(c -> receipt(c, c.issuedAt(), c.budget(), c.instructionsCharged(), c.uploadBytes(),
        c.downloadBytes() + 1, c.cost(), c.refund(), c.outputCount(), c.end()));
    names.add("outputCount + 1 (instructionsCharged + 1)");
    changes.add(c -> receipt(c, c.issuedAt(), c.budget(), c.instructionsCharged() + 1, c.uploadBytes(),
        c.downloadBytes(), c.cost(), c.refund(), c.outputCount() + 1, c.end()));
    names.add("failedInstruction and failureReason + 1 (a failure)");
    changes.add(c -> receipt(c, c.issuedAt(), c.budget(), c.instructionsCharged(), c.uploadBytes(),
        c.downloadBytes(), c.cost().withoutStorage(), c.refund().plus(c.cost().storage()), c.outputCount(),
        new Receipt.Failed(0, 1, "")));
    for (int i = 0; i < names.size(); i++) {
      UnaryOperator<Receipt> change = changes.get(i);
      expectCaught("re-signed receipt, " + names.get(i), this::reads, READS, r -> resigned(r, change));
    }
    tamper.set((position, r) -> r.hasEnd() ? resigned(r, c -> receipt(c, c.issuedAt().plusMillis(1), c.budget(),
        c.instructionsCharged(), c.uploadBytes(), c.downloadBytes(), c.cost(), c.refund(), c.outputCount(),
        c.end())) : r);
    try {
      client.run(reads());
      assertTrue(tamper.changed.get() > 0);
    } catch (RenterException e) {
      fail("issuedAt + 1 ms is within the window: " + e);
    } finally {
      tamper.clear();
    }
  }

  private ExecuteResponse resigned(ExecuteResponse r, UnaryOperator<Receipt> change) {
    try {
      Receipt c = SignedReceipt.parse(r.getEnd().getSignedReceipt().toByteArray()).receipt();
      return r.toBuilder().setEnd(r.getEnd().toBuilder()
          .setSignedReceipt(ByteString.copyFrom(change.apply(c).sign(hostKey).encode()))).build();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The blocking iterator hands over the outputs verified before the bad one, then throws. */
  @Test
  void theIteratorDeliversTheVerifiedOutputsThenTheMisbehaviour() throws Exception {
    tamper.set((position, response) -> position == 4
        ? onResult(r -> r.toBuilder().setOutput(flip(r.getOutput(), 10, 0x01)).build()).apply(response) : response);
    try {
      ProgramRun run = client.submit(reads(), null, null);
      List<VerifiedOutput> got = new ArrayList<>();
      UncheckedRenterException e = assertThrows(UncheckedRenterException.class, () -> run.forEach(got::add));
      assertEquals(4, got.size());
      assertTrue(e.getCause() instanceof HostMisbehaviourException, e.toString());
      assertEquals(4, ((HostMisbehaviourException) e.getCause()).instructionIndex());
      assertTrue(run.completion().isCompletedExceptionally());
    } finally {
      tamper.clear();
    }
  }

  /** Two reads, the second of a sub-record that does not exist: fails honestly at instruction 1. */
  private PreparedProgram failingRead() {
    ProgramBuilder b = writer.newProgram(client);
    b.readSubRecordAtHeight(1, 0, writer.highestHead());
    b.readSubRecordAtHeight(1, 9999, writer.highestHead());
    return b.build();
  }

  /**
   * A failed program's end: 1 added to (or a bit flipped in) each field of its Failure is caught, since
   * the receipt states the instruction, the reason and the message, and the bound enters its costs.
   */
  @Test
  void everyFailureFieldIsCaught() {
    ProgramFailedException honest = assertThrows(ProgramFailedException.class, () -> client.run(failingRead()));
    assertEquals(2, honest.receipt().instructionsCharged());
    assertEquals(1, honest.receipt().failedInstruction());
    List<UnaryOperator<Failure>> changes = List.of(
        f -> f.toBuilder().setInstruction(f.getInstruction() + 1).build(),
        f -> f.toBuilder().setInstruction(f.getInstruction() - 1).build(),
        f -> f.toBuilder().setReasonValue(f.getReasonValue() + 1).build(),
        f -> f.toBuilder().setMessage(f.getMessage() + " ").build(),
        f -> f.toBuilder().setMessage(flip(ByteString.copyFromUtf8(f.getMessage()), 0, 0x01).toStringUtf8()).build(),
        f -> f.toBuilder().setMaxOutputBytes(f.getMaxOutputBytes() + 1).build(),
        f -> f.toBuilder().setMaxOutputBytes(f.getMaxOutputBytes() - 1).build());
    for (int i = 0; i < changes.size(); i++) {
      UnaryOperator<Failure> change = changes.get(i);
      expectCaught("failure field change " + i, this::failingRead, 1, r -> r.toBuilder().setEnd(r.getEnd()
          .toBuilder().setFailure(change.apply(r.getEnd().getFailure()))).build());
    }
  }

  /**
   * A reason from a newer host is UNKNOWN to this SDK, and the failure is still an honest one when the
   * signed receipt states the same reason: the SDK relies on nothing the reason says. (The reason alone
   * changed is caught: the receipt states it.)
   */
  @Test
  void anUnknownFailureReasonIsReportedAsUnknownWithItsVerifiedReceipt() {
    tamper.set((position, r) -> {
      if (!r.hasEnd()) {
        return r;
      }
      ExecuteResponse resigned = resigned(r, c -> receipt(c, c.issuedAt(), c.budget(), c.instructionsCharged(),
          c.uploadBytes(), c.downloadBytes(), c.cost(), c.refund(), c.outputCount(),
          new Receipt.Failed(c.failedInstruction(), 99, c.failureMessage())));
      return resigned.toBuilder().setEnd(resigned.getEnd().toBuilder()
          .setFailure(resigned.getEnd().getFailure().toBuilder().setReasonValue(99))).build();
    });
    try {
      ProgramFailedException e = assertThrows(ProgramFailedException.class, () -> client.run(failingRead()));
      assertEquals(ProgramFailedException.Reason.UNKNOWN, e.reason());
      assertTrue(e.getMessage().contains("(reason 99, unknown to this SDK)"), e.getMessage());
      assertEquals(1, e.instructionIndex());
      assertEquals(2, e.receipt().instructionsCharged());
      assertTrue(tamper.changed.get() > 0);
    } finally {
      tamper.clear();
    }
  }

  /** Every bit of the balance statement, and 1 added to the reply's balance, or its account changed. */
  @Test
  void everyBalanceReplyFieldIsCaught() throws Exception {
    client.balance();
    List<UnaryOperator<BalanceResponse>> changes = new ArrayList<>();
    changes.add(r -> r.toBuilder().setBalance(r.getBalance() + 1).build());
    changes.add(r -> r.toBuilder().setAccount(flip(r.getAccount(), 31, 0x01)).build());
    changes.add(r -> r.toBuilder().clearSignedStatement().build());
    for (int p = 0; p < SignedBalanceStatement.LENGTH; p++) {
      int position = p;
      changes.add(r -> r.toBuilder().setSignedStatement(flip(r.getSignedStatement(), position, 0x01)).build());
    }
    for (int i = 0; i < changes.size(); i++) {
      tamper.setBalance(changes.get(i));
      try {
        HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, client::balance,
            "balance change " + i);
        assertEquals(HostMisbehaviourException.Part.BALANCE, e.part());
        assertTrue(tamper.changed.get() > 0);
      } finally {
        tamper.clear();
      }
    }
    // Untouched replies verify again. (The amount may have moved meanwhile: an earlier test's cancelled
    // program is settled by the host whenever its call ends.)
    client.balance();
  }

  /** Every bit of the signed price table: a forged table is misbehaviour (a fresh client fetches it). */
  @Test
  void everyPriceTableBitIsCaught() throws Exception {
    int length = dev.capsulevm.pricing.SignedPriceTable.LENGTH;
    for (int p = 0; p < length; p++) {
      int position = p;
      tamper.setPriceTable(r -> r.toBuilder().setSignedPriceTable(flip(r.getSignedPriceTable(), position, 0x01))
          .build());
      try (HostClient fresh = HostClient.connect(host.address(), SigningKey.generate(),
          RenterOptions.defaults().withInterceptors(List.of(tamper)))) {
        HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, fresh::priceTable,
            "price table byte " + p);
        assertEquals(HostMisbehaviourException.Part.PRICE_TABLE, e.part());
      } finally {
        tamper.clear();
      }
    }
  }

  /** A write program of one append and a Heads instruction, built on the writer's current heads. */
  private PreparedProgram write(String name) {
    try {
      ProgramBuilder b = writer.newProgram(client);
      b.append(writer.buildRecords(List.of(subRecords(name, 4)), System.currentTimeMillis()));
      b.heads();
      return b.build();
    } catch (CapsuleWriter.MissingHeaderException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The capsule's heads by an honest Heads program. */
  private List<Record> headsOnTheHost() throws RenterException {
    ProgramBuilder check = new ProgramBuilder(writer.capsuleId(), writer.metadata(), null, null);
    check.heads();
    return ((dev.capsulevm.program.Output.Heads) client.run(check.build()).output(0).output()).heads();
  }

  /**
   * A write that states its heads, tampered in any output: the renter never takes a false answer (it
   * reports misbehaviour, or a committed write whose answer misbehaved), and the capsule is either as it
   * was or holds exactly the stated heads: never anything the renter did not compute.
   */
  @Test
  void aTamperedStatedWriteCommitsNothingButTheStatedHeads() throws Exception {
    for (int m = 0; m < 2; m++) {
      for (int p : new int[] {0, 3, 4, 20, 40, 70, 100, 200, 300}) {
        int message = m;
        List<Record> before = writer.refreshHeads(client);
        PreparedProgram program = write("stated " + m + " " + p);
        List<dev.capsulevm.proofs.Hash> stated = HostClient.statedHeads(program, false);
        assertEquals(1, stated.size());
        tamper.set((position, r) -> position == message ? onResult(x -> p < x.getOutput().size()
            ? x.toBuilder().setOutput(flip(x.getOutput(), p, 0x01)).build()
            : x.toBuilder().setOutput(flip(x.getOutput(), x.getOutput().size() - 1, 0x02)).build()).apply(r) : r);
        RenterException e;
        try {
          e = assertThrows(RenterException.class, () -> client.run(program), "output " + m + " byte " + p);
        } finally {
          tamper.clear();
        }
        assertTrue(e instanceof HostMisbehaviourException || e instanceof WriteCommittedException,
            "output " + m + " byte " + p + ": " + e);
        // The renter gave up on the call; the host may still be committing the program's stated heads.
        Await.until("the tampered program ended at the host", () -> host.host.programsInFlight() == 0);
        List<dev.capsulevm.proofs.Hash> now = headsOnTheHost().stream().map(Record::hash).toList();
        List<dev.capsulevm.proofs.Hash> was = before.stream().map(Record::hash).toList();
        if (!now.equals(was) && !now.equals(stated)) {
          fail("output " + m + " byte " + p + ": the host holds " + now + ", neither " + was + " nor " + stated);
        }
        if (e instanceof WriteCommittedException committed) {
          assertEquals(stated, now, "reported committed: the stated heads are the capsule's");
          assertEquals(stated, committed.committedHeads().stream().map(Record::hash).toList());
        }
      }
    }
    writer.refreshHeads(client);
  }

  /** A write tampered anywhere before the decision is cancelled and never committed. */
  @Test
  void aTamperedConfirmedWriteIsNeverCommitted() throws Exception {
    writer.refreshHeads(client);
    List<Record> headsBefore = writer.heads();
    Supplier<PreparedProgram> write = () -> {
      try {
        ProgramBuilder b = writer.newProgram(client);
        b.append(writer.buildRecords(List.of(subRecords("never", 4)), System.currentTimeMillis()));
        b.heads();
        return b.build();
      } catch (CapsuleWriter.MissingHeaderException e) {
        throw new IllegalStateException(e);
      }
    };
    List<UnaryOperator<ExecuteResponse>> changes = new ArrayList<>();
    List<Integer> messages = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (int m = 0; m < 2; m++) {
      for (int p : new int[] {0, 3, 4, 20, 40, 70, 100, 200, 300}) {
        messages.add(m);
        names.add("write output " + m + " byte " + p);
        changes.add(onResult(r -> p < r.getOutput().size()
            ? r.toBuilder().setOutput(flip(r.getOutput(), p, 0x01)).build()
            : r.toBuilder().setOutput(flip(r.getOutput(), r.getOutput().size() - 1, 0x02)).build()));
      }
      messages.add(m);
      names.add("write cost_so_far " + m);
      changes.add(onResult(r -> r.toBuilder().setCostSoFar(r.getCostSoFar() + 1).build()));
      messages.add(m);
      names.add("write max_output_bytes " + m);
      changes.add(onResult(r -> r.toBuilder().setMaxOutputBytes(r.getMaxOutputBytes() + 1).build()));
      messages.add(m);
      names.add("write index " + m);
      changes.add(onResult(r -> r.toBuilder().setIndex(r.getIndex() + 1).build()));
    }
    messages.add(2);
    names.add("proposal heads");
    changes.add(r -> r.toBuilder().setProposal(r.getProposal().toBuilder()
        .setHeads(0, flip(r.getProposal().getHeads(0), 31, 0x01))).build());
    for (long delta : new long[] {-1, 1}) {
      messages.add(2);
      names.add("proposal cost " + delta);
      changes.add(r -> r.toBuilder().setProposal(r.getProposal().toBuilder()
          .setCost(r.getProposal().getCost() + delta)).build());
    }
    messages.add(2);
    names.add("proposal with an extra head");
    changes.add(r -> r.toBuilder().setProposal(r.getProposal().toBuilder().addHeads(ByteString.copyFrom(new byte[32])))
        .build());
    for (int i = 0; i < changes.size(); i++) {
      expectCaught(confirming, names.get(i), write, messages.get(i), changes.get(i));
      Await.until("the tampered program ended at the host", () -> host.host.programsInFlight() == 0);
      // Nothing was committed: an honest Heads program still sees the writer's heads.
      List<Record> now = headsOnTheHost();
      if (!now.equals(headsBefore)) {
        fail(names.get(i) + ": the tampered write was committed");
      }
    }
    // Tampering after the decision (the committed heads) is still caught, and the write is committed.
    tamper.set((position, r) -> position == 3 ? r.toBuilder().setEnd(r.getEnd().toBuilder()
        .setCommittedHeads(0, flip(r.getEnd().getCommittedHeads(0), 0, 0x01))).build() : r);
    try {
      WriteCommittedException e = assertThrows(WriteCommittedException.class, () -> confirming.run(write.get()));
      assertEquals(HostMisbehaviourException.Part.RECEIPT, e.misbehaviour().part());
      assertEquals(1, e.committedHeads().size());
    } finally {
      tamper.clear();
    }
    writer.refreshHeads(client);
  }

  /**
   * Issue 13, finding 4: a ProgramEnd tampered after the renter confirmed was "misbehaviour, nothing
   * confirmed" although the host had committed the write, and the writer kept stale heads, so its next
   * append through an honest host failed too. Now: the write is reported committed (checked with a
   * verified Heads program), the misbehaviour named, the writer's heads are the capsule's, and its next
   * append succeeds.
   */
  @Test
  void aTamperedEndAfterTheConfirmIsACommittedWriteAndTheWriterStaysTrue() throws Exception {
    CapsuleWriter w = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
        SigningPolicy.EVERY_RECORD, 64, 64, "after the confirm");
    w.append(client, List.of(utf8("first")));
    List<UnaryOperator<ExecuteResponse>> changes = new ArrayList<>();
    for (int p : new int[] {0, 1, 40, 100, 140, 200, 247, 260, -64, -1}) {
      changes.add(r -> {
        ByteString receipt = r.getEnd().getSignedReceipt();
        int position = p >= 0 ? Math.min(p, receipt.size() - 1) : receipt.size() + p;
        return r.toBuilder().setEnd(r.getEnd().toBuilder().setSignedReceipt(flip(receipt, position, 0x01))).build();
      });
    }
    changes.add(r -> r.toBuilder().setEnd(r.getEnd().toBuilder()
        .setCommittedHeads(0, flip(r.getEnd().getCommittedHeads(0), 31, 0x01))).build());
    changes.add(r -> r.toBuilder().setEnd(r.getEnd().toBuilder().clearCommittedHeads()).build());
    changes.add(r -> r.toBuilder().setEnd(r.getEnd().toBuilder().setFailure(Failure.newBuilder()
        .setReason(FailureReason.FAILURE_REASON_STORAGE).setInstruction(-1).setMessage("storage"))).build());
    changes.add(r -> r.toBuilder().setEnd(r.getEnd().toBuilder().clearSignedReceipt()).build());
    for (int i = 0; i < changes.size(); i++) {
      UnaryOperator<ExecuteResponse> change = changes.get(i);
      // Only the append's end: the verified programs that settle it run through the same channel.
      AtomicBoolean once = new AtomicBoolean();
      tamper.set((position, r) -> r.hasEnd() && once.compareAndSet(false, true) ? change.apply(r) : r);
      List<Hash> appended;
      try {
        WriteCommittedException e = assertThrows(WriteCommittedException.class,
            () -> w.append(client, List.of(utf8("tampered"))), "end change " + i);
        assertTrue(e.getMessage().startsWith("the write is committed"), e.getMessage());
        appended = e.committedHeads().stream().map(Record::hash).toList();
      } finally {
        tamper.clear();
      }
      assertEquals(appended, w.heads().stream().map(Record::hash).toList(), "the writer adopted the heads");
      ProgramBuilder check = new ProgramBuilder(w.capsuleId(), w.metadata(), null, null);
      check.heads();
      assertEquals(appended, ((dev.capsulevm.program.Output.Heads) client.run(check.build()).output(0).output())
          .heads().stream().map(Record::hash).toList(), "the host's heads");
      // The next append, through the honest host, succeeds on the writer's true heads.
      RecordWithBody next = w.append(client, List.of(utf8("next " + i))).get(0);
      assertEquals(List.of(next.hash()), w.heads().stream().map(Record::hash).toList());
    }
  }
}
