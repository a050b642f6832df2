package dev.capsulevm.renter;

import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputBounds;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import dev.capsulevm.proto.WireSizes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Checks one parsed output against what the renter asked for, with the shared {@link ProofVerifier}
 * (proofs against the anchor, whose records it then caches). Every failure is a
 * {@link VerificationException} or a {@link Bad}; the caller turns it into
 * {@link HostMisbehaviourException} naming the output.
 */
final class OutputVerifier {

  private OutputVerifier() {}

  /** A check that failed, with what was wrong. */
  static final class Bad extends Exception {
    private static final long serialVersionUID = 1L;

    Bad(String message) {
      super(message);
    }
  }

  /**
   * An {@code AppendRecord} output whose heads are the ones the renter expects plus others: what an
   * honest host answers when another writer appended since the renter last saw the heads. The renter
   * does not commit, and checks with a verified {@code Heads} program that the others are real.
   */
  static final class Conflict extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient List<Hash> extraHeads;

    Conflict(List<Hash> extraHeads) {
      super("the append leaves heads " + extraHeads + " the renter does not know besides its own");
      this.extraHeads = List.copyOf(extraHeads);
    }

    List<Hash> extraHeads() {
      return extraHeads;
    }
  }

  /**
   * Verifies {@code output} of {@code step} in a program on {@code capsuleIdOrNull}.
   *
   * @return the header of the record the output proves or returns, or null
   * @throws Conflict for an append conflict: the output is otherwise what an honest host sends
   */
  static @Nullable RecordHeader verify(ProgramBuilder.Step step, Output output, @Nullable Hash capsuleIdOrNull,
      ProofVerifier verifier) throws Bad, VerificationException, Conflict {
    Instruction instruction = step.instruction();
    if (instruction instanceof Instruction.CreateCapsule) {
      Hash id = ((Output.CapsuleCreated) output).capsuleId();
      if (!id.equals(step.expectedCapsuleId())) {
        throw new Bad("the capsule id is " + id + ", the signed metadata hashes to " + step.expectedCapsuleId());
      }
      return null;
    }
    if (instruction instanceof Instruction.AppendRecord) {
      List<Hash> heads = ((Output.Appended) output).proposedHeads();
      requireSortedDistinct(heads, "proposed heads");
      List<Hash> expected = step.expectedHeadsOrNull();
      if (expected != null && !heads.equals(expected)) {
        if (!heads.containsAll(expected)) {
          throw new Bad("the proposed heads are " + heads + ", the renter expects " + expected);
        }
        List<Hash> extra = new ArrayList<>(heads);
        extra.removeAll(expected);
        throw new Conflict(extra);
      }
      return null;
    }
    if (instruction instanceof Instruction.ReadSubRecord) {
      if (output instanceof Output.SubRecordDropped dropped) {
        return verifyDropped(step, dropped, verifier);
      }
      Output.SubRecord read = (Output.SubRecord) output;
      return verifySubRecord(step, read.proof(), read.payload(), verifier);
    }
    if (instruction instanceof Instruction.Prove p) {
      Output.Proof proof = (Output.Proof) output;
      // The output was decoded for this instruction, which says which of the two proofs it carries.
      if (p.isSubRecord()) {
        SubRecordProof sub = Objects.requireNonNull(proof.subRecordProofOrNull());
        if (step.payloadOrNull() != null) {
          return verifySubRecord(step, sub, step.payloadOrNull(), verifier);
        }
        RecordHeader header = verifyTarget(step, sub.recordProof(), verifier);
        // Without the payload the path's hashes cannot be checked (whoever holds the payload can);
        // its index, tree size and length can.
        if (sub.inclusion().index() != step.subRecordIndex() || sub.inclusion().treeSize() != header.subRecordCount()) {
          throw new Bad("the inclusion proof is for sub-record " + sub.inclusion().index() + " of "
              + sub.inclusion().treeSize() + ", asked " + step.subRecordIndex() + " of " + header.subRecordCount());
        }
        long expectedLength = pathLength(sub.inclusion().index(), sub.inclusion().treeSize());
        if (sub.inclusion().path().size() != expectedLength) {
          throw new Bad("the inclusion path has " + sub.inclusion().path().size() + " hashes, RFC 9162 needs "
              + expectedLength);
        }
        return header;
      }
      return verifyTarget(step, Objects.requireNonNull(proof.recordProofOrNull()), verifier);
    }
    if (instruction instanceof Instruction.HasRecord) {
      RecordHeader header = ((Output.Has) output).headerOrNull(); // held exactly when there is one
      if (header != null && !header.hash().equals(step.lookupHash())) {
        throw new Bad("the header hashes to " + header.hash() + ", asked " + step.lookupHash());
      }
      return header;
    }
    if (instruction instanceof Instruction.ReadByHash) {
      Output.ByHash byHash = (Output.ByHash) output;
      Record record = byHash.recordOrNull();
      if (record == null) {
        if (byHash.subRecordCount() != 0) {
          throw new Bad("an absent record with " + byHash.subRecordCount() + " sub-records");
        }
        return null;
      }
      if (!record.hash().equals(step.lookupHash())) {
        throw new Bad("the record hashes to " + record.hash() + ", asked " + step.lookupHash());
      }
      if (record.isSigned() && !record.hasValidSignature()) {
        throw new Bad("the signature of " + record.hash() + " does not verify under its writer");
      }
      // The builder holds the metadata of the capsule the program names (readByHash requires it); a
      // record of another capsule is checked against its hash and its own writer key only. In a version-2
      // capsule who may write depends on the membership records: a record read by hash is not checked
      // for it here (the SDK's member log resolves the membership records it reads this way).
      SignedMetadata metadata = step.metadataOrNull();
      if (metadata != null && metadata.metadata().version() == Metadata.VERSION
          && record.header().capsuleId().equals(metadata.capsuleId()) && record.isSigned()
          && !metadata.metadata().mayAppend(record.header().writer())) {
        throw new Bad("record " + record.hash() + " is signed by " + record.header().writer()
            + ", not a writer of the capsule");
      }
      if (byHash.subRecordCount() != record.header().subRecordCount()) {
        throw new Bad("the sub-record count is " + byHash.subRecordCount() + ", the header says "
            + record.header().subRecordCount());
      }
      return record.header();
    }
    if (instruction instanceof Instruction.Metadata) {
      // Parsing checked the creator's signature; the bytes must be the capsule's, whose id is their hash.
      SignedMetadata metadata = ((Output.Metadata) output).signedMetadata();
      if (!metadata.capsuleId().equals(capsuleIdOrNull)) {
        throw new Bad("the metadata hashes to " + metadata.capsuleId() + ", not to the capsule id " + capsuleIdOrNull);
      }
      return null;
    }
    List<Record> heads = ((Output.Heads) output).heads();
    // A head becomes a trusted anchor, so it is accepted only from a writer the metadata names: the builder
    // refuses a Heads instruction without the metadata.
    SignedMetadata metadata = step.metadataOrNull();
    if (metadata == null) {
      throw new IllegalStateException("a Heads step without the capsule's metadata");
    }
    Hash previous = null;
    List<RecordHeader> trusted = new ArrayList<>();
    for (Record head : heads) {
      RecordHeader header = head.header();
      if (previous != null && previous.compareTo(head.hash()) >= 0) {
        throw new Bad("the heads are not sorted by hash and distinct");
      }
      previous = head.hash();
      if (!header.capsuleId().equals(capsuleIdOrNull)) {
        throw new Bad("head " + head.hash() + " belongs to capsule " + header.capsuleId());
      }
      if (!head.isSigned()) {
        throw new Bad("head " + head.hash() + " is unsigned (every head is the last record of an append)");
      }
      if (!head.hasValidSignature()) {
        throw new Bad("the signature of head " + head.hash() + " does not verify under writer " + header.writer());
      }
      if (checkWriter(metadata, header)) {
        trusted.add(header);
      }
    }
    // Signed by a writer: these become trusted anchors for later proofs.
    trusted.forEach(verifier::trust);
    return null;
  }

  /**
   * Whether the head's writer may write it, as far as the metadata tells: in version 1, a writer the
   * metadata names; in version 2, a head without auth parents was written in the genesis state, so its
   * member root must be that state's and its writer must hold the right there. A version-2 head with auth
   * parents depends on membership records the output does not carry: it is not trusted here (false), and
   * the SDK's readers and writers check it against the verified records ({@code MemberLog.checkHeads})
   * before they accept it.
   *
   * @throws Bad for a head whose writer may not write it
   */
  private static boolean checkWriter(SignedMetadata metadata, RecordHeader header) throws Bad {
    Metadata m = metadata.metadata();
    if (m.version() == Metadata.VERSION) {
      if (!m.mayAppend(header.writer())) {
        throw new Bad("head " + header.hash() + " is by " + header.writer() + ", not a writer of the capsule");
      }
      return true;
    }
    if (header.version() != m.version()) {
      throw new Bad("head " + header.hash() + " is a version-" + header.version() + " record of a version-"
          + m.version() + " capsule");
    }
    if (!header.authParents().isEmpty()) {
      return false;
    }
    MemberState genesis = MemberState.genesis(m);
    if (!genesis.root().equals(header.memberRootOrNull())) {
      throw new Bad("head " + header.hash() + " has no auth parents, but its member root is not the genesis state's");
    }
    int bits = genesis.bitsOf(header.writer());
    if (header.kind() == RecordKind.DATA ? !Rights.mayWrite(genesis, header.writer()) : bits == 0) {
      throw new Bad("head " + header.hash() + " is by " + header.writer() + ", not a writer of the capsule (bits "
          + String.format("0x%02x", bits) + " at genesis)");
    }
    return true;
  }

  /**
   * The renter's upper bound on an output that it can only work out once it sees the output: the
   * {@code Heads}, {@code HasRecord}, {@code ReadByHash} and {@code Metadata} bounds are exact given the
   * output (the host charges what it returns); an {@code AppendRecord} bound counts the heads of the
   * host's view before the append as at most the heads after, minus the appended records among them,
   * plus the parents outside the append that it can have consumed. -1 when the step's own bound applies.
   */
  static long boundFromOutput(ProgramBuilder.Step step, Output output) {
    long envelope = WireSizes.OUTPUT_ENVELOPE_BYTES;
    if (output instanceof Output.Heads h) {
      long out = 4;
      for (Record head : h.heads()) {
        out += OutputBounds.head(head.header());
      }
      return out + envelope;
    }
    if (output instanceof Output.Has has) {
      return OutputBounds.hasRecord(has.headerOrNull()) + envelope;
    }
    if (output instanceof Output.ByHash byHash) {
      return OutputBounds.readByHash(byHash.recordOrNull()) + envelope;
    }
    if (output instanceof Output.Metadata m) {
      return OutputBounds.metadata(m.signedMetadata().encoded().length) + envelope;
    }
    ProgramBuilder.Appended appended = step.appendedOrNull();
    if (output instanceof Output.Appended after && appended != null) {
      long tips = appended.records().stream().filter(after.proposedHeads()::contains).count();
      long before = Math.max(0, after.proposedHeads().size() - tips) + appended.externalParents();
      return OutputBounds.append(before, appended.records().size()) + envelope;
    }
    return -1;
  }

  /** The length of an RFC 9162 inclusion path for leaf {@code index} of a tree of {@code size} leaves. */
  static long pathLength(long index, long size) {
    long length = 0;
    while (size > 1) {
      long k = Long.highestOneBit(size - 1);
      if (index < k) {
        size = k;
      } else {
        index -= k;
        size -= k;
      }
      length++;
    }
    return length;
  }

  private static RecordHeader verifySubRecord(ProgramBuilder.Step step, SubRecordProof proof, byte[] payload,
      ProofVerifier verifier) throws Bad, VerificationException {
    Hash target = targetOf(step, proof.recordProof());
    requireWholePath(step, proof.recordProof(), target);
    RecordHeader header = verifier.verifySubRecord(step.anchor(), target, step.subRecordIndex(), payload, proof);
    checkHeight(step, header);
    return header;
  }

  /**
   * A "dropped under the retention policy" answer: the leaf hash's proof and the witness's proof both
   * start at the anchor and are linked throughout, and the witness and the policy before it let the
   * record's payloads go ({@link ProofVerifier#verifyDropped}); otherwise the host invented it.
   */
  private static RecordHeader verifyDropped(ProgramBuilder.Step step, Output.SubRecordDropped dropped,
      ProofVerifier verifier) throws Bad, VerificationException {
    Hash target = targetOf(step, dropped.proof().recordProof());
    requireWholePath(step, dropped.proof().recordProof(), target);
    requireWholePath(step, dropped.witnessProof(), dropped.witnessProof().target().hash());
    RecordHeader header = verifier.verifyDropped(step.anchor(), target, step.subRecordIndex(), dropped.leafHash(),
        dropped.proof(), dropped.witnessProof()).record();
    checkHeight(step, header);
    return header;
  }

  private static RecordHeader verifyTarget(ProgramBuilder.Step step, RecordProof proof, ProofVerifier verifier)
      throws Bad, VerificationException {
    Hash target = targetOf(step, proof);
    requireWholePath(step, proof, target);
    RecordHeader header = verifier.verifyRecord(step.anchor(), target, proof);
    checkHeight(step, header);
    return header;
  }

  /**
   * The host builds every proof from the anchor the instruction names, so the first header must be the
   * anchor and every header must be linked; the shared verifier alone would stop at the first cached
   * record and ignore the headers above it, which would leave them unchecked in the output the caller
   * sees. (A renter walks backwards cheaply by naming a cached record as the next anchor.)
   */
  private static void requireWholePath(ProgramBuilder.Step step, RecordProof proof, Hash target)
      throws Bad, VerificationException {
    if (!proof.headers().get(0).hash().equals(step.anchor())) {
      throw new Bad("the proof starts at " + proof.headers().get(0).hash() + ", not at the anchor " + step.anchor());
    }
    new ProofVerifier(null).verifyRecord(step.anchor(), target, proof);
  }

  /** The record a proof must end at: the named hash, or (by height) the proof's last header. */
  private static Hash targetOf(ProgramBuilder.Step step, RecordProof proof) {
    if (step.targetHashOrNull() != null) {
      return step.targetHashOrNull();
    }
    List<RecordHeader> headers = proof.headers();
    return headers.get(headers.size() - 1).hash();
  }

  private static void checkHeight(ProgramBuilder.Step step, RecordHeader header) throws Bad {
    if (step.targetHashOrNull() == null && header.height() != step.targetHeight()) {
      throw new Bad("the proven record has height " + header.height() + ", asked " + step.targetHeight());
    }
  }

  private static void requireSortedDistinct(List<Hash> hashes, String what) throws Bad {
    Set<Hash> seen = new HashSet<>();
    for (int i = 0; i < hashes.size(); i++) {
      if (!seen.add(hashes.get(i)) || (i > 0 && hashes.get(i - 1).compareTo(hashes.get(i)) > 0)) {
        throw new Bad("the " + what + " are not sorted and distinct");
      }
    }
  }
}
