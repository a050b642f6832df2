package dev.capsulevm.program;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.merkle.Merkle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Recomputes every {@code vector retention.*} line of docs/FORMAT.md ("Retention"): a version-2 capsule
 * of three records (d1 "a" by the writer, then the creator's "keep the newest 1 height", then d3 "c"), and
 * the dropped answer to {@code ReadSubRecord(d1, 0, anchor d3)}, whose witness is d3 itself. Run
 * {@link #main} to print them afresh after a deliberate format change.
 */
class RetentionFormatTest {
  static Map<String, String> compute() throws Exception {
    HexFormat hex = HexFormat.of();
    V2Capsule v = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody d1 = v.appendOne(v.data(TestCapsule.WRITER, List.of(v.id()), "a"));
    RecordWithBody keep = v.appendOne(v.change(TestCapsule.CREATOR, List.of(d1.hash()),
        new MemberChange.SetRetention(RetentionPolicy.keepHeights(1))));
    RecordWithBody d3 = v.appendOne(v.data(TestCapsule.WRITER, List.of(keep.hash()), "c"));
    ProofGenerator generator = new ProofGenerator(v.source, v.memberStates());
    Output.SubRecordDropped answer = new Output.SubRecordDropped(Merkle.leafHash(d1.payloads().get(0)),
        generator.subRecordProof(d3.hash(), d1.hash(), 0, d1.tree()), generator.recordProof(d3.hash(), d3.hash()));
    // The answer verifies: d3's policy (keep 1 height) lets d3 (height 3) drop d1 (height 1).
    new ProofVerifier(null).verifyDropped(d3.hash(), d1.hash(), 0, answer.leafHash(), answer.proof(),
        answer.witnessProof());
    byte[] encoded = OutputEncoding.encode(answer);
    Map<String, String> out = new LinkedHashMap<>();
    out.put("retention.example.d1", d1.hash().toHex());
    out.put("retention.example.d3", d3.hash().toHex());
    out.put("retention.example.leaf-hash", answer.leafHash().toHex());
    out.put("retention.example.answer-length", Integer.toString(encoded.length));
    out.put("retention.example.answer", hex.formatHex(encoded));
    return out;
  }

  @Test
  void formatDocument_retentionVectorsMatchTheCode() throws Exception {
    Path doc = Path.of("..", "docs", "FORMAT.md");
    assertTrue(Files.exists(doc), "docs/FORMAT.md is part of the project");
    Map<String, String> documented = new LinkedHashMap<>();
    for (String line : Files.readAllLines(doc)) {
      if (line.startsWith("vector retention.")) {
        int eq = line.indexOf(" = ");
        documented.put(line.substring(7, eq).trim(), line.substring(eq + 3).trim());
      }
    }
    assertEquals(compute(), documented);
  }

  public static void main(String[] args) throws Exception {
    compute().forEach((name, value) -> System.out.println("vector " + name + " = " + value));
  }
}
