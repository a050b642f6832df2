package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.Failure;
import dev.capsulevm.proto.v1.FailureReason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The end of a program, against a scripted host (no host process): the receipt v2 must sign the renter's
 * own transcript of the outputs and the end the renter saw, and the end must be consistent with what the
 * renter received. Issue 13, findings 2 and 3: before, the receipt covered no output and no end, and
 * {@code Failure.instruction}, {@code reason} and {@code message} were taken as they came.
 */
class ProgramEndTest {
  private final ScriptedHost host = new ScriptedHost();
  private final TestCapsule capsule = new TestCapsule();
  private final RecordWithBody r1 = capsule.append("one", 3);
  private final RecordWithBody r2 = capsule.append("two", 5);

  /** Five reads of different kinds on the capsule, answered honestly. */
  private ScriptedHost.Session reads() {
    ProgramBuilder b = capsule.builder();
    b.metadata();
    b.has(r1.hash());
    b.readByHash(r1.hash());
    b.heads();
    b.proveSubRecord(r1.hash(), 2, r2.record().header(), r1.payloads().get(2));
    return host.start(b.build());
  }

  /** The honest results of the first {@code count} instructions of {@link #reads()}, charged in order. */
  private List<ExecuteResponse> honestOutputs(ScriptedHost.Session s, int count) {
    ProofGenerator proofs = new ProofGenerator(capsule.source());
    List<Output> outputs = List.of(new Output.Metadata(capsule.metadata), new Output.Has(true, r1.record().header()),
        new Output.ByHash(r1.record(), 3), new Output.Heads(List.of(r2.record())),
        new Output.Proof(null, proofs.subRecordProof(r2.hash(), r1.hash(), 2, r1.tree())));
    List<ExecuteResponse> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      out.add(s.result(outputs.get(i)));
    }
    return out;
  }

  private ScriptedHost.Session answered() {
    ScriptedHost.Session s = reads();
    honestOutputs(s, 5).forEach(s::send);
    return s;
  }

  private void expectMisbehaviour(ScriptedHost.Session s, String what) {
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, s::result, what);
    assertEquals(HostMisbehaviourException.Part.RECEIPT, e.part(), e.getMessage());
    assertTrue(s.cancelled, what + ": the stream was cancelled");
  }

  @Test
  void theReceiptSignsTheRenterComputedTranscript() throws Exception {
    ScriptedHost.Session s = answered();
    ProgramResult r = s.send(s.completed()).result();
    List<byte[]> entries = r.transcriptEntries();
    assertEquals(5, entries.size());
    List<Hash> leaves = new ArrayList<>();
    for (int i = 0; i < entries.size(); i++) {
      Transcript.Entry entry = Transcript.parseEntry(entries.get(i));
      assertEquals(i, entry.index());
      assertEquals(r.program().program().instructions().get(i), entry.instruction());
      assertArrayEquals(r.output(i).outputBytes(), entry.output());
      entry.inputs(r.inputsOf(i)); // the inputs hash to the entry's digest
      leaves.add(entry.leaf());
    }
    assertEquals(Transcript.rootOf(leaves), r.receipt().transcriptRoot());
    assertEquals(5, r.receipt().outputCount());
    assertEquals(r.receipt(), r.signedReceipt().verify(host.hostKey.publicKey()));
    assertEquals(capsule.id(), r.receipt().capsuleIdOrNull());
    assertEquals(32, r.inputsOf(1).length, "HasRecord references the hash");
    assertEquals(0, r.inputsOf(0).length, "Metadata references nothing");
  }

  @Test
  void everyForgedEndFieldIsCaughtEvenWhenTheHostSignsIt() {
    List<String> names = new ArrayList<>();
    List<UnaryOperator<Receipt>> changes = new ArrayList<>();
    names.add("transcript root");
    changes.add(r -> ScriptedHost.with(r, r.issuedAt(), r.outputCount(), Merkle.leafHash(new byte[0]), r.end()));
    names.add("output count");
    changes.add(r -> ScriptedHost.with(r, r.issuedAt(), r.outputCount() - 1, r.transcriptRoot(), r.end()));
    names.add("issuedAt 6 minutes before the submission");
    changes.add(r -> ScriptedHost.with(r, ScriptedHost.NOW.minus(Duration.ofMinutes(6)), r.outputCount(),
        r.transcriptRoot(), r.end()));
    names.add("issuedAt 6 minutes after the end");
    changes.add(r -> ScriptedHost.with(r, ScriptedHost.NOW.plus(Duration.ofMinutes(6)), r.outputCount(),
        r.transcriptRoot(), r.end()));
    names.add("committed heads on a read");
    changes.add(r -> ScriptedHost.with(r, r.issuedAt(), r.outputCount(), r.transcriptRoot(),
        new Receipt.Completed(List.of(r2.hash()))));
    names.add("another capsule");
    changes.add(r -> new Receipt(r.hostKey(), r.issuedAt(), r.programId(), r.priceTableId(), r1.hash(), r.budget(),
        r.instructionsCharged(), r.uploadBytes(), r.downloadBytes(), r.cost(), r.refund(), r.outputCount(),
        r.transcriptRoot(), r.end()));
    for (int i = 0; i < names.size(); i++) {
      ScriptedHost.Session s = answered();
      expectMisbehaviour(s.send(s.resigned(s.completed(), changes.get(i))), names.get(i));
    }
  }

  @Test
  void aReceiptIssuedWithinTheClockToleranceIsAccepted() throws Exception {
    for (Duration d : List.of(Duration.ofMinutes(-5), Duration.ofMinutes(5))) {
      ScriptedHost.Session s = answered();
      s.send(s.resigned(s.completed(), r -> ScriptedHost.with(r, ScriptedHost.NOW.plus(d), r.outputCount(),
          r.transcriptRoot(), r.end()))).result();
    }
  }

  @Test
  void aReceiptSignedByAnotherHostNamingItselfIsCaught() {
    SigningKey other = SigningKey.generate();
    ScriptedHost.Session s = answered();
    expectMisbehaviour(s.send(s.resigned(s.completed(), r -> new Receipt(other.publicKey(), r.issuedAt(),
        r.programId(), r.priceTableId(), r.capsuleIdOrNull(), r.budget(), r.instructionsCharged(), r.uploadBytes(),
        r.downloadBytes(), r.cost(), r.refund(), r.outputCount(), r.transcriptRoot(), r.end()), other)),
        "another host");
  }

  /**
   * Four outputs, then an honest NOT_FOUND at instruction 4, which the host charged (at its bound) before
   * it failed: charged, its output never sent.
   */
  private ScriptedHost.Session failedAtFour() {
    ScriptedHost.Session s = reads();
    honestOutputs(s, 4).forEach(s::send);
    return s;
  }

  /** The bound instruction 4 (the sub-record proof) is charged at. */
  private long boundOfFour() {
    ProofGenerator proofs = new ProofGenerator(capsule.source());
    return ScriptedHost.honestBound(reads().program.steps().get(4).instruction(),
        new Output.Proof(null, proofs.subRecordProof(r2.hash(), r1.hash(), 2, r1.tree())), 0, 0);
  }

  private ExecuteResponse honestFailure(ScriptedHost.Session s) {
    long bound = boundOfFour();
    s.chargeWithoutOutput(bound);
    return s.failed(4, FailureReason.FAILURE_REASON_NOT_FOUND, "no such record", bound);
  }

  @Test
  void anHonestFailureIsAFailureWithTheReceiptsEnd() {
    ScriptedHost.Session s = failedAtFour();
    ProgramFailedException e = assertThrows(ProgramFailedException.class, () -> s.send(honestFailure(s)).result());
    assertEquals(ProgramFailedException.Reason.NOT_FOUND, e.reason());
    assertEquals(4, e.instructionIndex());
    assertEquals(4, e.receipt().failedInstruction());
    assertEquals(5, e.receipt().instructionsCharged());
    assertEquals(FailureReason.FAILURE_REASON_NOT_FOUND.getNumber(), e.receipt().failureReason());
    assertEquals("no such record", e.receipt().failureMessage());
  }

  /** Adding 1 to (or otherwise changing) any field of the Failure is caught: the receipt states each. */
  @Test
  void everyFailureFieldChangedIsCaught() {
    List<UnaryOperator<Failure>> changes = List.of(
        f -> f.toBuilder().setInstruction(f.getInstruction() + 1).build(),
        f -> f.toBuilder().setInstruction(f.getInstruction() - 1).build(),
        f -> f.toBuilder().setInstruction(-1).build(),
        f -> f.toBuilder().setReasonValue(f.getReasonValue() + 1).build(),
        f -> f.toBuilder().setReasonValue(0).build(),
        f -> f.toBuilder().setMessage(f.getMessage() + "!").build(),
        f -> f.toBuilder().setMessage("").build(),
        f -> f.toBuilder().setMaxOutputBytes(f.getMaxOutputBytes() + 1).build(),
        f -> f.toBuilder().setMaxOutputBytes(f.getMaxOutputBytes() - 1).build());
    for (int i = 0; i < changes.size(); i++) {
      ScriptedHost.Session s = failedAtFour();
      ExecuteResponse end = honestFailure(s);
      UnaryOperator<Failure> change = changes.get(i);
      ExecuteResponse tampered = end.toBuilder().setEnd(end.getEnd().toBuilder()
          .setFailure(change.apply(end.getEnd().getFailure()))).build();
      expectMisbehaviour(s.send(tampered), "failure change " + i);
    }
  }

  /**
   * {@code max_output_bytes} 0 means "not reported": the renter then solves the bound from the signed
   * receipt's instruction part and checks it against its limit, so dropping the figure is harmless.
   */
  @Test
  void aFailureWithoutItsBoundIsCheckedFromTheReceipt() {
    ScriptedHost.Session s = failedAtFour();
    ExecuteResponse end = honestFailure(s);
    ExecuteResponse dropped = end.toBuilder().setEnd(end.getEnd().toBuilder()
        .setFailure(end.getEnd().getFailure().toBuilder().setMaxOutputBytes(0))).build();
    ProgramFailedException e = assertThrows(ProgramFailedException.class, () -> s.send(dropped).result());
    assertEquals(5, e.receipt().instructionsCharged());
  }

  /**
   * A host that signs a failure naming an instruction already answered (or one beyond the outputs) is
   * caught by the renter's own view even though the receipt and the end agree.
   */
  @Test
  void aFailureNamingAnAnsweredInstructionIsCaughtEvenWhenSigned() {
    for (int named : new int[] {0, 1, 2, 3, 5, -2}) {
      ScriptedHost.Session s = failedAtFour();
      ExecuteResponse end = honestFailure(s);
      ExecuteResponse forged = s.resigned(end, r -> ScriptedHost.with(r, r.issuedAt(), r.outputCount(),
          r.transcriptRoot(), named < -1 ? r.end() : new Receipt.Failed(named, 4, "no such record")));
      forged = forged.toBuilder().setEnd(forged.getEnd().toBuilder().setFailure(forged.getEnd().getFailure()
          .toBuilder().setInstruction(named))).build();
      expectMisbehaviour(s.send(forged), "failure at " + named);
    }
  }

  /** A reason this SDK does not know, stated alike by the end and the signed receipt: an honest failure. */
  @Test
  void aReasonUnknownToTheSdkIsStillAVerifiedFailure() {
    ScriptedHost.Session s = failedAtFour();
    ExecuteResponse end = honestFailure(s);
    ExecuteResponse newer = s.resigned(end, r -> ScriptedHost.with(r, r.issuedAt(), r.outputCount(),
        r.transcriptRoot(), new Receipt.Failed(4, 99, "no such record")));
    newer = newer.toBuilder().setEnd(newer.getEnd().toBuilder().setFailure(newer.getEnd().getFailure().toBuilder()
        .setReasonValue(99))).build();
    ExecuteResponse sent = newer;
    ProgramFailedException e = assertThrows(ProgramFailedException.class, () -> s.send(sent).result());
    assertEquals(ProgramFailedException.Reason.UNKNOWN, e.reason());
    assertEquals(99, e.receipt().failureReason());
    assertTrue(e.getMessage().contains("(reason 99, unknown to this SDK)"), e.getMessage());
  }

  /** A failure outside any instruction (-1) after every output: consistent, so honest. */
  @Test
  void aFailureOutsideAnyInstructionIsAccepted() {
    ScriptedHost.Session s = answered();
    ProgramFailedException e = assertThrows(ProgramFailedException.class,
        () -> s.send(s.failed(-1, FailureReason.FAILURE_REASON_DATA, "program data late", 0)).result());
    assertEquals(-1, e.instructionIndex());
    assertEquals(5, e.receipt().outputCount());
  }

  /** The receipt's message is the end's, truncated alike to 1024 UTF-8 bytes. */
  @Test
  void aLongFailureMessageIsComparedTruncated() {
    ScriptedHost.Session s = failedAtFour();
    String longMessage = "é".repeat(700); // 1400 bytes
    long bound = boundOfFour();
    s.chargeWithoutOutput(bound);
    ProgramFailedException e = assertThrows(ProgramFailedException.class,
        () -> s.send(s.failed(4, FailureReason.FAILURE_REASON_NOT_FOUND, longMessage, bound)).result());
    assertEquals(512, e.receipt().failureMessage().length());
  }

  /** A write: the receipt must state the confirmed heads, and a committed end must name the same. */
  @Test
  void aCommitsHeadsAreTheConfirmedProposalsAndTheReceiptsAlike() throws Exception {
    host.confirmCommits = true;
    List<RecordWithBody> next = capsule.next("three", 2);
    Hash tip = next.get(0).hash();
    ProgramBuilder b = capsule.builder();
    b.append(next);
    ScriptedHost.Session honest = host.start(b.build());
    honest.send(honest.append(List.of(tip), 1)).send(honest.proposal(List.of(tip)));
    assertEquals(Boolean.TRUE, honest.decision());
    ProgramResult r = honest.send(honest.committed(List.of(tip))).result();
    assertEquals(List.of(tip), r.receipt().committedHeads());
    assertEquals(List.of(tip), r.committedHeads());

    // The end names other heads than the receipt and the proposal.
    ScriptedHost.Session s = host.start(b.build());
    s.send(s.append(List.of(tip), 1)).send(s.proposal(List.of(tip)));
    ExecuteResponse end = s.committed(List.of(tip));
    ExecuteResponse otherHeads = end.toBuilder().setEnd(end.getEnd().toBuilder().setCommittedHeads(0,
        com.google.protobuf.ByteString.copyFrom(r1.hash().toByteArray()))).build();
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, () -> s.send(otherHeads).result());
    assertEquals(HostMisbehaviourException.Part.RECEIPT, e.part());

    // The receipt names other heads than the end and the proposal, signed by the host.
    ScriptedHost.Session t = host.start(b.build());
    t.send(t.append(List.of(tip), 1)).send(t.proposal(List.of(tip)));
    ExecuteResponse forged = t.resigned(t.committed(List.of(tip)), x -> ScriptedHost.with(x, x.issuedAt(),
        x.outputCount(), x.transcriptRoot(), new Receipt.Completed(List.of(r1.hash()))));
    assertThrows(HostMisbehaviourException.class, () -> t.send(forged).result());
  }
  /** A write that stated its heads: no proposal; the end and the receipt must commit exactly those heads. */
  @Test
  void aWriteThatStatesItsHeadsCommitsExactlyThoseAndGetsNoProposal() throws Exception {
    List<RecordWithBody> next = capsule.next("three", 2);
    Hash tip = next.get(0).hash();
    ProgramBuilder b = capsule.builder();
    b.append(next);
    ScriptedHost.Session honest = host.start(b.build());
    assertTrue(honest.headsStated());
    ProgramResult r = honest.send(honest.append(List.of(tip), 1)).send(honest.committed(List.of(tip))).result();
    assertEquals(List.of(tip), r.receipt().committedHeads());
    assertNull(honest.decision(), "nothing to decide");

    // A proposal anyway is misbehaviour (the renter cannot confirm what it stated already).
    ScriptedHost.Session p = host.start(b.build());
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class,
        () -> p.send(p.append(List.of(tip), 1)).send(p.proposal(List.of(tip))).result());
    assertEquals(HostMisbehaviourException.Part.STREAM, e.part());
    assertTrue(p.cancelled);

    // A commit of other heads than the stated ones, in the end and the receipt alike, signed by the host.
    ScriptedHost.Session t = host.start(b.build());
    t.send(t.append(List.of(tip), 1));
    ExecuteResponse other = t.resigned(t.committed(List.of(tip)), x -> ScriptedHost.with(x, x.issuedAt(),
        x.outputCount(), x.transcriptRoot(), new Receipt.Completed(List.of(r1.hash()))));
    ExecuteResponse both = other.toBuilder().setEnd(other.getEnd().toBuilder().setCommittedHeads(0,
        com.google.protobuf.ByteString.copyFrom(r1.hash().toByteArray()))).build();
    HostMisbehaviourException f = assertThrows(HostMisbehaviourException.class, () -> t.send(both).result());
    assertEquals(HostMisbehaviourException.Part.RECEIPT, f.part());
  }


  @Test
  void theReceiptsOutputsAreTheVerifiedOnesBytesForBytes() throws Exception {
    ScriptedHost.Session s = answered();
    ProgramResult r = s.send(s.completed()).result();
    for (VerifiedOutput out : r.outputs()) {
      byte[] entry = r.transcriptEntries().get(out.index());
      assertArrayEquals(out.outputBytes(), Transcript.parseEntry(entry).output());
    }
    SignedReceipt again = SignedReceipt.parse(r.signedReceipt().encode());
    assertEquals(r.receipt(), again.receipt());
    assertFalse(r.receipt().failed());
    assertTrue(((Output.Heads) r.output(3).output()).heads().stream().map(Record::hash).toList()
        .contains(r2.hash()));
  }
}
