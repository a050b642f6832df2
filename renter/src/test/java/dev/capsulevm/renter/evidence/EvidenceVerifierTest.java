package dev.capsulevm.renter.evidence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.merkle.Merkle;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * Evidence built from receipts as a host signs them: each kind verifies, says what it proves, and every
 * single-bit change of the file, and every claim that does not contradict, is rejected.
 */
class EvidenceVerifierTest {
  private static final SigningKey HOST = SigningKey.fromSeed(filled(7));
  private static final SigningKey OTHER_HOST = SigningKey.fromSeed(filled(8));
  private static final Instant T = Instant.ofEpochMilli(1_800_000_000_000L);

  private final CapsuleFixture capsule = new CapsuleFixture("evidence");
  private final RecordWithBody r1 = capsule.record(capsule.id(), "one");
  private final RecordWithBody r2 = capsule.record(r1.hash(), "two");

  @Test
  void aDenialOfACommittedRecordIsProven() throws Exception {
    Evidence evidence = denial(T, T.plusSeconds(1), false);
    EvidenceVerifier.Finding finding = EvidenceVerifier.verify(Evidence.parse(evidence.encode()), capsule.id());
    assertEquals(Evidence.Kind.DENIED_RECORD, finding.kind());
    assertEquals(r2.hash(), finding.record());
    assertEquals(HOST.publicKey(), finding.host());
    assertTrue(finding.statement().contains(r2.hash().toString()) && finding.statement().contains("does not hold"),
        finding.statement());
  }

  @Test
  void headsThatAllLieBelowAHeldRecordProveARollback() throws Exception {
    Claim heads = entry(HOST, T.plusSeconds(5), capsule.id(), new Instruction.Heads(), List.of(),
        new Output.Heads(List.of(r1.record())));
    Evidence evidence = new Evidence(Evidence.Kind.ROLLBACK, capsule.id(), r2.record().header(), committed(HOST, T),
        heads);
    EvidenceVerifier.Finding finding = EvidenceVerifier.verify(Evidence.parse(evidence.encode()), null);
    assertTrue(finding.statement().contains("rollback"), finding.statement());
  }

  @Test
  void aHeadsOutputThatListedTheRecordIsAHeldClaimToo() throws Exception {
    Claim listed = entry(HOST, T, capsule.id(), new Instruction.Heads(), List.of(), new Output.Heads(List.of(r2.record())));
    Evidence evidence = new Evidence(Evidence.Kind.DENIED_RECORD, capsule.id(), r2.record().header(), listed,
        hasAbsent(HOST, T.plusMillis(1)));
    assertEquals(T, EvidenceVerifier.verify(evidence, capsule.id()).heldAt());
  }

  @Test
  void claimsThatDoNotContradictAreRefused() {
    assertRefused(denial(T, T, false), "not after");
    assertRefused(denial(T.plusSeconds(1), T, false), "not after");
    assertRefused(denial(T, T.plusSeconds(1), true), "answered as not held");
    assertRefused(new Evidence(Evidence.Kind.DENIED_RECORD, capsule.id(), r2.record().header(), committed(HOST, T),
        hasAbsent(OTHER_HOST, T.plusSeconds(1))), "two hosts");
    // Heads that include a record at the held record's height do not show a rollback.
    Claim sameHeight = entry(HOST, T.plusSeconds(5), capsule.id(), new Instruction.Heads(), List.of(),
        new Output.Heads(List.of(r2.record())));
    assertRefused(new Evidence(Evidence.Kind.ROLLBACK, capsule.id(), r2.record().header(), committed(HOST, T),
        sameHeight), "not below");
    // The record the evidence is about must be the one the committed heads name.
    assertRefused(new Evidence(Evidence.Kind.DENIED_RECORD, capsule.id(), r1.record().header(), committed(HOST, T),
        hasAbsent(HOST, T.plusSeconds(1))), "do not contain");
    Hash elsewhere = new CapsuleFixture("another capsule").id();
    EvidenceException e = assertThrows(EvidenceException.class,
        () -> EvidenceVerifier.verify(denial(T, T.plusSeconds(1), false), elsewhere));
    assertTrue(e.getMessage().contains("not " + elsewhere), e.getMessage());
  }

  @Test
  void everySingleBitFlipIsRejected() throws Exception {
    byte[] good = denial(T, T.plusSeconds(1), false).encode();
    for (int i = 0; i < good.length; i++) {
      for (int bit = 0; bit < 8; bit++) {
        byte[] bad = good.clone();
        bad[i] ^= (byte) (1 << bit);
        try {
          EvidenceVerifier.verify(Evidence.parse(bad), capsule.id());
          fail("byte " + i + " bit " + bit + " flipped and the evidence still verified");
        } catch (EvidenceException expected) {
          // caught
        }
      }
    }
  }

  @Test
  void somethingElseIsNotEvidence() {
    EvidenceException e = assertThrows(EvidenceException.class,
        () -> Evidence.parse("hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
    assertTrue(e.getMessage().contains("CVMEVID1"), e.getMessage());
    byte[] good = denial(T, T.plusSeconds(1), false).encode();
    assertThrows(EvidenceException.class, () -> Evidence.parse(Arrays.copyOf(good, good.length + 1)));
    assertThrows(EvidenceException.class, () -> Evidence.parse(Arrays.copyOf(good, good.length - 1)));
  }

  private Evidence denial(Instant heldAt, Instant deniedAt, boolean present) {
    Claim denied = present
        ? entry(HOST, deniedAt, null, new Instruction.HasRecord(new DataRef(0, 32)), List.of(r2.hash().toByteArray()),
            new Output.Has(true, r2.record().header()))
        : hasAbsent(HOST, deniedAt);
    return new Evidence(Evidence.Kind.DENIED_RECORD, capsule.id(), r2.record().header(), committed(HOST, heldAt), denied);
  }

  private Claim hasAbsent(SigningKey host, Instant at) {
    return entry(host, at, null, new Instruction.HasRecord(new DataRef(0, 32)), List.of(r2.hash().toByteArray()),
        new Output.Has(false, null));
  }

  private Claim committed(SigningKey host, Instant at) {
    return new Claim.CommittedHeads(receipt(host, at, capsule.id(), 0, Transcript.rootOf(List.of()),
        new Receipt.Completed(List.of(r2.hash()))));
  }

  /** A receipt of a one-instruction program whose transcript is that instruction's entry. */
  private static Claim entry(SigningKey host, Instant at, @Nullable Hash capsuleOrNull, Instruction instruction,
      List<byte[]> inputs, Output output) {
    byte[] entry = Transcript.entry(0, instruction, inputs, OutputEncoding.encode(output));
    SignedReceipt receipt = receipt(host, at, capsuleOrNull, 1, Transcript.rootOf(List.of(Merkle.leafHash(entry))),
        Receipt.Completed.NOTHING_COMMITTED);
    byte[] concatenated = new byte[inputs.stream().mapToInt(b -> b.length).sum()];
    int offset = 0;
    for (byte[] input : inputs) {
      System.arraycopy(input, 0, concatenated, offset, input.length);
      offset += input.length;
    }
    return Claim.Entry.of(receipt, List.of(entry), 0, concatenated);
  }

  private static SignedReceipt receipt(SigningKey host, Instant at, @Nullable Hash capsuleOrNull, int outputs,
      Hash transcriptRoot, Receipt.End end) {
    CostBreakdown cost = new CostBreakdown(Amount.of(600), Amount.of(300), Amount.of(100), Amount.ZERO);
    return new Receipt(host.publicKey(), at, new CapsuleFixture("program").id(), new CapsuleFixture("table").id(),
        capsuleOrNull, Amount.of(2000), Math.max(outputs, 1), 100, 200, cost, Amount.of(1000), outputs, transcriptRoot,
        end).sign(host);
  }

  private void assertRefused(Evidence evidence, String reason) {
    EvidenceException e = assertThrows(EvidenceException.class,
        () -> EvidenceVerifier.verify(Evidence.parse(evidence.encode()), capsule.id()));
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  private static byte[] filled(int value) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) value);
    return seed;
  }
}
