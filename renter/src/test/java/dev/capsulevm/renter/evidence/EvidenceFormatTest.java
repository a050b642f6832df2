package dev.capsulevm.renter.evidence;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.Fixtures;
import dev.capsulevm.pricing.FormatDocument;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.merkle.Merkle;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Recomputes docs/FORMAT.md's "Evidence" example: its first claim is receipt example 1 (checked byte for
 * byte against the document), its second a later receipt of a {@code HasRecord} of record 1 answered
 * "absent"; the file's bytes, their hash and what the verifier says it proves are the document's.
 */
class EvidenceFormatTest {
  private static final HexFormat HEX = HexFormat.of();

  @Test
  void theDocumentedExampleIsWhatTheCodeBuildsAndVerifies() throws Exception {
    Map<String, String> doc = FormatDocument.vectors();
    Example e = example(doc);
    FormatDocument.assertContains("evidence claim A is receipt example 1", FormatDocument.hexBlock(e.held.encode()));
    Map<String, String> documented = new TreeMap<>();
    doc.forEach((name, value) -> {
      if (name.startsWith("evidence.")) {
        documented.put(name, value);
      }
    });
    assertEquals(FormatDocument.vectorLines(new TreeMap<>(e.vectors)), FormatDocument.vectorLines(documented));
    EvidenceVerifier.Finding finding = EvidenceVerifier.verify(Evidence.parse(e.file), null);
    FormatDocument.assertContains("the verifier's statement", finding.statement());
  }

  private record Example(SignedReceipt held, byte[] file, Map<String, String> vectors) {}

  private static Example example(Map<String, String> doc) {
    RecordHeader record1;
    try {
      record1 = RecordHeader.parse(HEX.parseHex(doc.get("record1.header")));
    } catch (dev.capsulevm.proofs.VerificationException e) {
      throw new AssertionError(e);
    }
    Hash capsule = record1.capsuleId();
    Hash table = Fixtures.exampleTable().id();
    // Receipt example 1: the append that committed record 1 as the capsule's one head.
    SignedReceipt held = new Receipt(Fixtures.HOST.publicKey(), Instant.ofEpochMilli(1_800_000_061_500L),
        hash(doc.get("completed.program-id")), table, capsule, Amount.of(70_000), 2, 522, 230,
        new CostBreakdown(Amount.of(4696), Amount.of(982), Amount.of(864), Amount.of(12_150)), Amount.of(51_308), 2,
        hash(doc.get("completed.transcript-root")), new Receipt.Completed(List.of(record1.hash())))
        .sign(Fixtures.HOST);
    // A later program of one HasRecord of record 1, answered "not held". Its cost fields are whatever the
    // host charged; the evidence verifier does not read them.
    byte[] entry = Transcript.entry(0, new Instruction.HasRecord(new DataRef(0, 32)), List.of(record1.hash().toByteArray()),
        OutputEncoding.encode(new Output.Has(false, null)));
    SignedReceipt denied = new Receipt(Fixtures.HOST.publicKey(), Instant.ofEpochMilli(1_800_000_120_000L),
        Sha256.hash(dev.capsulevm.proofs.Domain.PROGRAM_ID, new byte[] {1}), table, null, Amount.of(10_000), 1, 231, 65,
        new CostBreakdown(Amount.of(1636), Amount.of(361), Amount.of(49), Amount.ZERO), Amount.of(7954), 1,
        Transcript.rootOf(List.of(Merkle.leafHash(entry))), Receipt.Completed.NOTHING_COMMITTED).sign(Fixtures.HOST);
    Evidence evidence = new Evidence(Evidence.Kind.DENIED_RECORD, capsule, record1, new Claim.CommittedHeads(held),
        Claim.Entry.of(denied, List.of(entry), 0, record1.hash().toByteArray()));
    byte[] file = evidence.encode();
    Map<String, String> v = new TreeMap<>();
    v.put("evidence.denied.receipt-b", HEX.formatHex(denied.encode()));
    v.put("evidence.denied.entry", HEX.formatHex(entry));
    v.put("evidence.denied.file", HEX.formatHex(file));
    v.put("evidence.denied.file-sha256", Sha256.untagged(file).toHex());
    return new Example(held, file, v);
  }

  private static Hash hash(String hex) {
    return Hash.fromHex(hex);
  }

  public static void main(String[] args) {
    System.out.print(FormatDocument.vectorLines(example(FormatDocument.vectors()).vectors));
  }
}
