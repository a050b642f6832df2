package dev.capsulevm.renter.evidence;

import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.merkle.MerkleVerifier;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Checks an {@link Evidence} file offline, with nothing but its bytes: both receipts are signed by the
 * host key the first names, each claim is what its receipt signed, the first says the host held the
 * record, the second, signed later, says it does not (or names only lower heads), so the two cannot both
 * be true of an honest host, which never loses a record it acknowledged.
 */
public final class EvidenceVerifier {
  private EvidenceVerifier() {}

  /**
   * What a verified evidence file proves.
   *
   * @param heldAt when the host signed that it held the record
   * @param contradictedAt when it signed the contradiction (always later)
   */
  public record Finding(Evidence.Kind kind, PublicKey host, Hash capsuleId, Hash record, long height, Instant heldAt,
      Instant contradictedAt) {
    /** One sentence saying what the evidence proves. */
    public String statement() {
      String later = kind == Evidence.Kind.DENIED_RECORD
          ? "that it does not hold that record"
          : "that the capsule's heads are all lower than that record (a rollback)";
      return "host " + host + " signed at " + heldAt + " that it held record " + record + " (height " + height
          + ") of capsule " + capsuleId + ", and at " + contradictedAt + " " + later
          + "; an honest host never drops a record it acknowledged";
    }
  }

  /**
   * Verifies {@code evidence}, and that it is about {@code expectedCapsuleOrNull} when one is given.
   *
   * @throws EvidenceException naming the first thing that does not hold
   */
  public static Finding verify(Evidence evidence, @Nullable Hash expectedCapsuleOrNull) throws EvidenceException {
    Objects.requireNonNull(evidence, "evidence");
    Hash capsule = evidence.capsuleId();
    if (expectedCapsuleOrNull != null && !expectedCapsuleOrNull.equals(capsule)) {
      throw new EvidenceException("the evidence is about capsule " + capsule + ", not " + expectedCapsuleOrNull);
    }
    RecordHeader record = evidence.record();
    if (!record.capsuleId().equals(capsule)) {
      throw new EvidenceException("record " + record.hash() + " belongs to capsule " + record.capsuleId()
          + ", not to the evidence's capsule " + capsule);
    }
    Receipt first = signedBySelf(evidence.held(), "the first claim");
    Receipt second = signedBySelf(evidence.contradiction(), "the second claim");
    if (!first.hostKey().equals(second.hostKey())) {
      throw new EvidenceException("the receipts are signed by two hosts, " + first.hostKey() + " and "
          + second.hostKey());
    }
    if (!second.issuedAt().isAfter(first.issuedAt())) {
      throw new EvidenceException("the contradiction was signed at " + second.issuedAt()
          + ", not after the first claim (" + first.issuedAt() + ")");
    }
    requireHeld(evidence.held(), first, record, capsule);
    if (evidence.kind() == Evidence.Kind.DENIED_RECORD) {
      requireDenied(evidence.contradiction(), record);
    } else {
      requireLowerHeads(evidence.contradiction(), second, record, capsule);
    }
    return new Finding(evidence.kind(), first.hostKey(), capsule, record.hash(), record.height(), first.issuedAt(),
        second.issuedAt());
  }

  /** The claim's receipt, verified under the key it names itself. */
  private static Receipt signedBySelf(Claim claim, String which) throws EvidenceException {
    try {
      return claim.receipt().verify(claim.receipt().receipt().hostKey());
    } catch (PricingException e) {
      throw new EvidenceException(which + ": " + e.getMessage(), e);
    }
  }

  private static void requireHeld(Claim claim, Receipt receipt, RecordHeader record, Hash capsule)
      throws EvidenceException {
    Hash r = record.hash();
    if (claim instanceof Claim.CommittedHeads) {
      requireCapsule(receipt, capsule, "the first claim");
      if (!receipt.committedHeads().contains(r)) {
        throw new EvidenceException("the first receipt's committed heads do not contain record " + r);
      }
      return;
    }
    // A completed program's outputs are what the host held: a failed one may have listed records it had only
    // staged, so its outputs say nothing about what was held.
    if (receipt.failed()) {
      throw new EvidenceException("the first claim rests on a failed program, whose outputs may show staged records");
    }
    Opened opened = open((Claim.Entry) claim, receipt, "the first claim");
    Output output = opened.output();
    boolean held;
    if (output instanceof Output.Heads h) {
      held = receiptIsAbout(receipt, capsule) && h.heads().stream().anyMatch(x -> x.hash().equals(r));
    } else if (output instanceof Output.Has h) {
      RecordHeader header = h.headerOrNull();
      held = header != null && header.hash().equals(r);
    } else if (output instanceof Output.ByHash b) {
      Record found = b.recordOrNull();
      held = found != null && found.hash().equals(r);
    } else {
      held = false;
    }
    if (!held) {
      throw new EvidenceException("the first claim's entry (" + opened.instruction().kind()
          + ") does not say that the host held record " + r);
    }
  }

  private static void requireDenied(Claim claim, RecordHeader record) throws EvidenceException {
    if (!(claim instanceof Claim.Entry entry)) {
      throw new EvidenceException("a denial is a transcript entry (HasRecord or ReadByHash), not committed heads");
    }
    Receipt receipt = entry.receipt().receipt();
    Opened opened = open(entry, receipt, "the second claim");
    boolean asked = opened.inputs().size() == 1 && Arrays.equals(opened.inputs().get(0), record.hash().toByteArray());
    Output output = opened.output();
    boolean absent = (output instanceof Output.Has h && h.headerOrNull() == null)
        || (output instanceof Output.ByHash b && b.recordOrNull() == null);
    if (!asked || !absent) {
      throw new EvidenceException("the second claim's entry (" + opened.instruction().kind()
          + ") is not a HasRecord or ReadByHash of record " + record.hash() + " answered as not held");
    }
  }

  private static void requireLowerHeads(Claim claim, Receipt receipt, RecordHeader record, Hash capsule)
      throws EvidenceException {
    if (!(claim instanceof Claim.Entry entry)) {
      throw new EvidenceException("a rollback is shown by a Heads transcript entry, not by committed heads");
    }
    requireCapsule(receipt, capsule, "the second claim");
    Opened opened = open(entry, receipt, "the second claim");
    if (!(opened.output() instanceof Output.Heads heads)) {
      throw new EvidenceException("the second claim's entry is a " + opened.instruction().kind() + ", not Heads");
    }
    for (Record head : heads.heads()) {
      if (head.header().height() >= record.height()) {
        throw new EvidenceException("head " + head.hash() + " has height " + head.header().height()
            + ", not below record " + record.hash() + " (height " + record.height() + ")");
      }
    }
  }

  private static boolean receiptIsAbout(Receipt receipt, Hash capsule) {
    return capsule.equals(receipt.capsuleIdOrNull());
  }

  private static void requireCapsule(Receipt receipt, Hash capsule, String which) throws EvidenceException {
    if (!receiptIsAbout(receipt, capsule)) {
      throw new EvidenceException(which + "'s program ran on capsule " + receipt.capsuleIdOrNull() + ", not " + capsule);
    }
  }

  /** A transcript entry checked against its receipt and opened: the instruction, its inputs, its output. */
  private record Opened(Instruction instruction, List<byte[]> inputs, Output output) {}

  private static Opened open(Claim.Entry claim, Receipt receipt, String which) throws EvidenceException {
    try {
      Transcript.Entry entry = Transcript.parseEntry(claim.entry());
      try {
        MerkleVerifier.verifyInclusion(entry.leaf(), claim.path(), receipt.transcriptRoot());
      } catch (VerificationException e) {
        throw new EvidenceException(which + ": the entry is not in the receipt's transcript: " + e.getMessage(), e);
      }
      List<byte[]> inputs = entry.inputs(claim.inputs());
      return new Opened(entry.instruction(), inputs, OutputEncoding.decode(entry.instruction(), entry.output()));
    } catch (VerificationException e) {
      throw new EvidenceException(which + ": " + e.getMessage(), e);
    }
  }
}
