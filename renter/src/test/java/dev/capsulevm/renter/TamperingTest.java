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
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.proto.v1.InstructionResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A man in the middle changes the host's answers (every byte position class: payload data, proof
 * headers and hashes, record headers, signatures, index, cost_so_far, max_output_bytes, proposals,
 * receipt bytes, re-signed receipts off by one unit, committed heads): every change must end in
 * {@link HostMisbehaviourException}, and a write tampered before its decision is never committed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TamperingTest {
  @TempDir static Path dir;
  private TestHost host;
  private final Tamper tamper = new Tamper();
  private HostClient client;
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
    writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD,
        4096, 64, "tamper");
    r1 = writer.append(client, List.of(utf8("one"))).get(0);
    r2 = writer.append(client, subRecords("kv", 1000)).get(0);
    r3 = writer.append(client, subRecords("three", 3)).get(0);
  }

  @AfterAll
  void stop() throws Exception {
    client.close();
    host.close();
  }

  /** Nine read instructions, one per output kind; the first references program data (exact costs). */
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
    return b.build();
  }

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
    tamper.set((position, response) -> position == message ? change.apply(response) : response);
    try {
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, () -> client.run(program.get()),
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
    assertEquals(10, honest.size(), "nine outputs and the end");
    int cases = 0;
    for (int m = 0; m < 9; m++) {
      ByteString output = honest.get(m).getResult().getOutput();
      for (int p : positions(output.size(), 32)) {
        int position = p;
        expectCaught("output " + m + " byte " + p, this::reads, m,
            onResult(r -> r.toBuilder().setOutput(flip(r.getOutput(), position, 0x01)).build()));
        cases++;
      }
    }
    assertTrue(cases > 150, "cases: " + cases);
  }

  @Test
  void everyResultFieldIsCaught() {
    for (int m = 0; m < 9; m++) {
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
      expectCaught("index at " + m, this::reads, m, onResult(r -> r.toBuilder().setIndex(r.getIndex() + 1).build()));
    }
    expectCaught("an output dropped", this::reads, 3, r -> ExecuteResponse.newBuilder().setResult(
        InstructionResult.getDefaultInstance()).build());
  }

  @Test
  void everyReceiptByteAndEveryEndFieldIsCaught() throws Exception {
    List<ExecuteResponse> honest = recordHonest(reads());
    ExecuteResponse end = honest.get(9);
    ByteString receipt = end.getEnd().getSignedReceipt();
    for (int p : positions(receipt.size(), 64)) {
      expectCaught("receipt byte " + p, this::reads, 9, r -> r.toBuilder().setEnd(r.getEnd().toBuilder()
          .setSignedReceipt(flip(r.getEnd().getSignedReceipt(), p, 0x01))).build());
    }
    expectCaught("committed heads on a read", this::reads, 9, r -> r.toBuilder().setEnd(r.getEnd().toBuilder()
        .addCommittedHeads(ByteString.copyFrom(new byte[32]))).build());
    expectCaught("a failure with a successful receipt", this::reads, 9, r -> r.toBuilder().setEnd(r.getEnd()
        .toBuilder().setFailure(Failure.newBuilder().setReason(FailureReason.FAILURE_REASON_NOT_FOUND).setInstruction(3)))
        .build());
  }

  /** The host's own key signs a receipt one unit off in each part: the recomputation catches it. */
  @Test
  void aReceiptOffByOneUnitIsCaughtEvenWhenSignedByTheHost() {
    for (int part = 0; part < 4; part++) {
      int which = part;
      expectCaught("re-signed receipt, part " + part + " + 1", this::reads, 9, r -> {
        try {
          Receipt c = SignedReceipt.parse(r.getEnd().getSignedReceipt().toByteArray()).receipt();
          CostBreakdown k = c.cost();
          Amount one = Amount.of(1);
          CostBreakdown changed = new CostBreakdown(
              which == 0 ? k.instruction().plus(one) : k.instruction(),
              which == 1 ? k.bandwidth().plus(one) : k.bandwidth(),
              which == 2 ? k.memory().plus(one) : k.memory(),
              which == 3 ? k.storage().plus(one) : k.storage());
          Receipt forged = new Receipt(c.programId(), c.priceTableId(), c.budget(), c.failed(),
              c.instructionsCharged(), c.uploadBytes(), c.downloadBytes(), changed, c.refund().minus(one));
          return r.toBuilder().setEnd(r.getEnd().toBuilder()
              .setSignedReceipt(ByteString.copyFrom(forged.sign(hostKey).encode()))).build();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
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

  /** A failed program's end reports the bound of the instruction that failed; changing it is caught. */
  @Test
  void aFailedProgramsReportedBoundIsChecked() {
    ProgramFailedException honest = assertThrows(ProgramFailedException.class, () -> client.run(failingRead()));
    assertEquals(2, honest.receipt().instructionsCharged());
    for (long delta : new long[] {1, -1}) {
      expectCaught("failure bound " + delta, this::failingRead, 1, r -> r.toBuilder().setEnd(r.getEnd().toBuilder()
          .setFailure(r.getEnd().getFailure().toBuilder()
              .setMaxOutputBytes(r.getEnd().getFailure().getMaxOutputBytes() + delta))).build());
    }
  }

  /**
   * A reason from a newer host is UNKNOWN to this SDK, and the failure is still an honest one: the
   * receipt was verified like any other, so the reason alone is not misbehaviour.
   */
  @Test
  void anUnknownFailureReasonIsReportedAsUnknownWithItsVerifiedReceipt() {
    tamper.set((position, r) -> r.hasEnd() ? r.toBuilder().setEnd(r.getEnd().toBuilder()
        .setFailure(r.getEnd().getFailure().toBuilder().setReasonValue(99))).build() : r);
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

  /** A write tampered anywhere before the decision is cancelled and never committed. */
  @Test
  void aTamperedWriteIsNeverCommitted() throws Exception {
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
    }
    messages.add(2);
    names.add("proposal heads");
    changes.add(r -> r.toBuilder().setProposal(r.getProposal().toBuilder()
        .setHeads(0, flip(r.getProposal().getHeads(0), 31, 0x01))).build());
    messages.add(2);
    names.add("proposal cost");
    changes.add(r -> r.toBuilder().setProposal(r.getProposal().toBuilder().setCost(r.getProposal().getCost() - 1))
        .build());
    messages.add(2);
    names.add("proposal with an extra head");
    changes.add(r -> r.toBuilder().setProposal(r.getProposal().toBuilder().addHeads(ByteString.copyFrom(new byte[32])))
        .build());
    for (int i = 0; i < changes.size(); i++) {
      expectCaught(names.get(i), write, messages.get(i), changes.get(i));
      // Nothing was committed: an honest Heads program still sees the writer's heads.
      ProgramBuilder check = new ProgramBuilder(writer.capsuleId(), writer.metadata(), null, null);
      check.heads();
      List<Record> now = ((dev.capsulevm.program.Output.Heads) client.run(check.build()).output(0).output()).heads();
      if (!now.equals(headsBefore)) {
        fail(names.get(i) + ": the tampered write was committed");
      }
    }
    // Tampering after the decision (the committed heads) is still caught, though the write happened.
    expectCaught("committed heads", write, 3, r -> r.toBuilder().setEnd(r.getEnd().toBuilder()
        .setCommittedHeads(0, flip(r.getEnd().getCommittedHeads(0), 0, 0x01))).build());
    writer.refreshHeads(client);
  }
}
