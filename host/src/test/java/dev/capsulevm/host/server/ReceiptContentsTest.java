package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.CostModel;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputBounds;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.FailureReason;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a receipt binds, over real gRPC through the raw stub: the transcript of the outputs the renter
 * received, the program's capsule and its end (committed heads); and what the host charges for the
 * Metadata, HasRecord and ReadByHash outputs (exactly what they return).
 */
class ReceiptContentsTest {
  static final long BUDGET = 50_000_000;
  static final long ENVELOPE = WireSizes.OUTPUT_ENVELOPE_BYTES;

  @TempDir
  Path dir;
  TestHost t;
  SigningKey account;
  PriceTable table;
  CapsuleFixture f;
  RecordWithBody r1;
  RecordWithBody r2;
  Run created;

  @BeforeEach
  void start() throws Exception {
    t = new TestHost(TestHost.config(dir));
    account = SigningKey.generate();
    t.fund(account, 1_000_000_000L);
    table = t.table().table();
    f = new CapsuleFixture("receipt-contents");
    r1 = f.record(List.of(f.id()), "one", 3);
    r2 = f.record(r1.hash(), "two");
    ProgramBuilder create = new ProgramBuilder(f.id());
    create.add(new Instruction.CreateCapsule(create.put(f.metadata.encoded())));
    create.add(new Instruction.AppendRecord(create.put(AppendEncoding.encode(List.of(r1, r2)))));
    create.add(new Instruction.Metadata());
    created = t.run(create, table, account, BUDGET, 100, true);
    assertEquals(Status.Code.OK, created.status().getCode(), () -> created.status().toString());
  }

  @AfterEach
  void stop() {
    t.close();
  }

  private Run run(ProgramBuilder program, byte[] withdrawal, int chunk) throws Exception {
    TestHost.Stream s = t.open();
    s.send(TestHost.header(program.encoded(), table, withdrawal, 10)); // the duration TestHost.check assumes
    byte[] d = program.bytes();
    for (int at = 0; at < d.length; at += chunk) {
      s.send(TestHost.data(d, at, Math.min(d.length, at + chunk)));
    }
    return TestHost.finish(s, true);
  }

  @Test
  void theReceiptsTranscriptIsTheOneTheRenterComputesFromTheOutputsItReceived() throws Exception {
    ProgramBuilder read = new ProgramBuilder(f.id());
    DataRef anchor = read.put(r2.hash());
    DataRef target = read.put(r1.hash());
    read.add(new Instruction.Metadata())
        .add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(target), 2, anchor))
        .add(Instruction.Prove.record(anchor, new RecordSelector.ByHeight(1)))
        .add(new Instruction.HasRecord(target))
        .add(new Instruction.ReadByHash(anchor))
        .add(new Instruction.Heads());
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Run run = run(read, w, 7);
    assertEquals(Status.Code.OK, run.status().getCode(), run.status().toString());
    Receipt receipt = run.receipt().verify(table.hostKey());

    // The renter's transcript: per output, the instruction, the bytes its refs point at, the output.
    Transcript seen = TestHost.transcript(run, read);
    assertEquals(6, seen.size());
    assertEquals(seen.size(), receipt.outputCount());
    assertEquals(seen.root(), receipt.transcriptRoot());
    assertEquals(f.id(), receipt.capsuleIdOrNull());
    assertEquals(List.of(), receipt.committedHeads(), "a read-only program commits nothing");
    assertEquals(receipt, TestHost.check(run, read, table, BUDGET, w));

    // One entry as an evidence file carries it: parsed, its inputs split by its refs, its leaf in the root.
    ExecuteResponse has = run.results().get(3);
    byte[] entry = Transcript.entry(3, read.program().instructions().get(3), List.of(r1.hash().toByteArray()),
        has.getResult().getOutput().toByteArray());
    Transcript.Entry parsed = Transcript.parseEntry(entry);
    assertEquals(seen.leaves().get(3), parsed.leaf());
    assertArrayEquals(r1.hash().toByteArray(), parsed.inputs(r1.hash().toByteArray()).get(0));
    assertEquals(6, seen.inclusionProof(3).treeSize(), "the proof is in a tree of outputCount leaves");

    // Any output other than the one sent gives another root.
    List<Hash> leaves = new ArrayList<>(seen.leaves());
    byte[] other = has.getResult().getOutput().toByteArray();
    other[other.length - 1] ^= 1;
    leaves.set(3, Transcript.leaf(3, read.program().instructions().get(3), List.of(r1.hash().toByteArray()), other));
    assertNotEquals(receipt.transcriptRoot(), Transcript.rootOf(leaves));
  }

  @Test
  void aCommittedReceiptStatesTheCapsuleTheHeadsAndTheTranscript() throws Exception {
    Receipt receipt = created.receipt().verify(table.hostKey());
    assertEquals(f.id(), receipt.capsuleIdOrNull());
    assertEquals(List.of(r2.hash()), receipt.committedHeads());
    assertEquals(3, receipt.outputCount());
    assertEquals(created.end().getEnd().getCommittedHeadsList(), created.proposal().getProposal().getHeadsList());

    RecordWithBody r3 = f.record(r2.hash(), "three");
    ProgramBuilder append = new ProgramBuilder(f.id());
    append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(r3)))));
    append.add(new Instruction.Heads());
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Run run = run(append, w, 1 << 20);
    assertEquals(Status.Code.OK, run.status().getCode(), run.status().toString());
    Receipt appended = TestHost.check(run, append, table, BUDGET, w);
    assertEquals(List.of(r3.hash()), appended.committedHeads());
    assertEquals(TestHost.transcript(run, append).root(), appended.transcriptRoot());
  }

  @Test
  void aProgramNamingNoCapsuleHasAReceiptNamingNone() throws Exception {
    ProgramBuilder lookup = new ProgramBuilder(null);
    lookup.add(new Instruction.HasRecord(lookup.put(r1.hash())));
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Run run = run(lookup, w, 1 << 20);
    Receipt receipt = TestHost.check(run, lookup, table, BUDGET, w);
    assertNull(receipt.capsuleIdOrNull());
    assertEquals(1, receipt.outputCount());
  }

  // ------------------------------------------------------------ Metadata

  @Test
  void metadataOfAHeldCapsuleIsItsSignedMetadataChargedExactly() throws Exception {
    ProgramBuilder p = new ProgramBuilder(f.id());
    p.add(new Instruction.Metadata());
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Run run = run(p, w, 1);
    assertEquals(Status.Code.OK, run.status().getCode(), run.status().toString());
    byte[] output = run.results().get(0).getResult().getOutput().toByteArray();
    Output.Metadata metadata = assertInstanceOf(Output.Metadata.class,
        OutputEncoding.decode(p.program().instructions().get(0), output));
    byte[] signed = metadata.signedMetadata().encoded();
    assertArrayEquals(f.metadata.encoded(), signed);
    assertEquals(f.id(), SignedMetadata.parse(signed, f.id()).capsuleId(), "it hashes to the capsule id");
    assertEquals(4 + signed.length + ENVELOPE, run.results().get(0).getResult().getMaxOutputBytes());
    assertEquals(OutputBounds.metadata(signed.length) + ENVELOPE, run.results().get(0).getResult().getMaxOutputBytes());
    TestHost.check(run, p, table, BUDGET, w);
  }

  @Test
  void metadataOfACapsuleNotHeldIsNotFoundAsItsReceiptSays() throws Exception {
    byte[] id = new byte[32];
    Arrays.fill(id, (byte) 0x5a);
    ProgramBuilder p = new ProgramBuilder(Hash.copyOf(id));
    p.add(new Instruction.Metadata());
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    long before = t.balance(account);
    Run run = run(p, w, 1);
    assertEquals(Status.Code.NOT_FOUND, run.status().getCode(), run.status().toString());
    Receipt receipt = TestHost.failure(run.end(), run.status(), table.hostKey());
    assertEquals(0, receipt.failedInstruction());
    assertEquals(FailureReason.FAILURE_REASON_NOT_FOUND.getNumber(), receipt.failureReason());
    assertEquals(Hash.copyOf(id), receipt.capsuleIdOrNull());
    assertEquals(0, receipt.outputCount());
    assertEquals(receipt, TestHost.check(run, p, table, BUDGET, w));
    assertEquals(before - receipt.finalCost().units(), t.balance(account));
  }

  @Test
  void metadataInAProgramThatNamesNoCapsuleIsRefusedBeforeTheBudgetIsTaken() throws Exception {
    ProgramBuilder p = new ProgramBuilder(null);
    p.add(new Instruction.Metadata());
    long before = t.balance(account);
    TestHost.Stream s = t.open();
    s.send(TestHost.header(p.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    Object first = s.next();
    Status status = assertInstanceOf(Status.class, first, "refused before any response");
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("MISSING_CAPSULE"), status.getDescription());
    assertEquals(before, t.balance(account), "nothing taken");
  }

  // ------------------------------------------------------------ HasRecord and ReadByHash

  @Test
  void hasRecordAndReadByHashAreChargedWhatTheyReturn() throws Exception {
    ProgramBuilder p = new ProgramBuilder(null);
    DataRef held = p.put(r1.hash());
    DataRef absent = p.put(new byte[32]);
    p.add(new Instruction.HasRecord(held))
        .add(new Instruction.HasRecord(absent))
        .add(new Instruction.ReadByHash(held))
        .add(new Instruction.ReadByHash(absent));
    byte[] w = TestHost.withdrawal(account, table, BUDGET);
    Run run = run(p, w, 1 << 20);
    assertEquals(Status.Code.OK, run.status().getCode(), run.status().toString());
    long header = r1.record().header().encodedLength();
    List<Long> bounds = List.of(1 + 4 + header + ENVELOPE, 1 + ENVELOPE, 1 + 4 + header + 1 + 64 + 8 + ENVELOPE,
        1 + ENVELOPE);
    assertEquals(bounds, run.results().stream().map(r -> r.getResult().getMaxOutputBytes()).toList());
    for (ExecuteResponse r : run.results()) {
      assertEquals(r.getResult().getOutput().size() + ENVELOPE, r.getResult().getMaxOutputBytes(), "exact");
    }

    // The receipt's instruction part is the start plus each instruction at its exact bound.
    Receipt receipt = TestHost.check(run, p, table, BUDGET, w);
    CostModel model = CostModel.of(table);
    Amount expected = model.programCost(p.encoded().length);
    for (int i = 0; i < 4; i++) {
      Instruction in = p.program().instructions().get(i);
      expected = expected.plus(model.instructionCost(new InstructionDescriptor(in.kind(), 32, bounds.get(i), 0)));
    }
    assertEquals(expected, receipt.cost().instruction());
    // A held header costs its size, an absent record one byte: far below the worst case.
    long worst = model.instructionCost(new InstructionDescriptor(p.program().instructions().get(0).kind(), 32,
        OutputBounds.HAS_RECORD + ENVELOPE, 0)).units();
    assertTrue(worst - model.instructionCost(new InstructionDescriptor(p.program().instructions().get(0).kind(), 32,
        bounds.get(0), 0)).units() > 16_000, "the worst-case header is no longer charged");
  }
}
