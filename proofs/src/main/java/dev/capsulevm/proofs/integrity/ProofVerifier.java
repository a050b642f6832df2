package dev.capsulevm.proofs.integrity;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.SkipPointers;
import dev.capsulevm.proofs.members.MemberEntryProof;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleVerifier;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Verifies record and sub-record proofs against a trusted anchor and a {@link ProofCache}.
 *
 * <p>The walk goes upwards from the proven record: each header must be named by a pointer of the one
 * above it, and the walk stops at the first header that is the anchor or a cached record. Headers above
 * that point are not needed and are ignored, so a caller that accepts a cached start checks only the
 * part it lacks (the renter SDK requires the whole path from the anchor instead). Everything verified
 * is added to the cache.
 *
 * <p>Security: a proof passes only if the proven header is linked by hash pointers to the anchor or to
 * a record that was itself so linked; heights along the path must agree with the pointer kinds. A
 * version-2 or version-3 record's proof must also show its writer's entry in the header's member root, with add for
 * a data record and any bits for a membership record: the header says who the members were before it,
 * and the entry shows the writer was one of them with the right.
 */
public final class ProofVerifier {
  private final @Nullable ProofCache cache;

  /** A verifier that remembers what it verified in {@code cacheOrNull} (null: no cache). */
  public ProofVerifier(@Nullable ProofCache cacheOrNull) {
    this.cache = cacheOrNull;
  }

  /**
   * Adopts {@code header} as trusted, for a record the caller has verified by other means (a head
   * whose writer's signature it checked). Without a cache this does nothing.
   */
  public void trust(RecordHeader header) {
    if (cache != null) {
      cache.put(header);
    }
  }

  /**
   * Verifies that {@code proof} proves record {@code target} under {@code anchor}.
   *
   * @param anchorOrNull the trusted record hash; null to rely on the cache alone
   * @return the proven record's header
   */
  public RecordHeader verifyRecord(@Nullable Hash anchorOrNull, Hash target, RecordProof proof)
      throws VerificationException {
    List<RecordHeader> headers = proof.headers();
    RecordHeader lower = headers.get(headers.size() - 1);
    if (!lower.hash().equals(target)) {
      throw new VerificationException(
          Failure.WRONG_TARGET, "the proof ends at " + lower.hash() + ", not at " + target);
    }
    checkWriterEntry(lower, proof.writerEntryOrNull());
    int trustedAt = -1;
    for (int i = headers.size() - 1; i >= 0; i--) {
      RecordHeader current = headers.get(i);
      if (isTrusted(anchorOrNull, current.hash())) {
        trustedAt = i;
        break;
      }
      if (i == 0) {
        throw new VerificationException(
            Failure.UNTRUSTED_ANCHOR,
            "the proof starts at " + current.hash() + ", which is neither the anchor "
                + anchorOrNull + " nor a cached record");
      }
      checkLink(headers.get(i - 1), current, i);
    }
    if (cache != null) {
      for (int i = trustedAt; i < headers.size(); i++) {
        cache.put(headers.get(i));
      }
    }
    return lower;
  }

  /**
   * Verifies that {@code payload} is sub-record {@code index} of record {@code target} under
   * {@code anchor}.
   *
   * @return the header of the record that holds the sub-record
   */
  public RecordHeader verifySubRecord(
      @Nullable Hash anchorOrNull, Hash target, long index, byte[] payload, SubRecordProof proof)
      throws VerificationException {
    return verifySubRecordLeaf(anchorOrNull, target, index, Merkle.leafHash(payload), proof);
  }

  /**
   * Verifies that the sub-record whose leaf hash is {@code leafHash} ({@code H(0x00 || payload)}) is
   * sub-record {@code index} of record {@code target} under {@code anchor}.
   *
   * @return the header of the record that holds the sub-record
   */
  public RecordHeader verifySubRecordLeaf(
      @Nullable Hash anchorOrNull, Hash target, long index, Hash leafHash, SubRecordProof proof)
      throws VerificationException {
    RecordHeader header = verifyRecord(anchorOrNull, target, proof.recordProof());
    if (proof.inclusion().index() != index) {
      throw new VerificationException(
          Failure.BAD_INCLUSION_PROOF,
          "the inclusion proof is for sub-record " + proof.inclusion().index() + ", not " + index);
    }
    if (proof.inclusion().treeSize() != header.subRecordCount()) {
      throw new VerificationException(
          Failure.BAD_INCLUSION_PROOF,
          "the inclusion proof is for " + proof.inclusion().treeSize() + " sub-records, the record has "
              + header.subRecordCount());
    }
    MerkleVerifier.verifyInclusion(leafHash, proof.inclusion(), header.subRecordRoot());
    return header;
  }

  /**
   * Verifies a host's answer that sub-record {@code index} of record {@code target} was dropped under
   * the capsule's retention policy (docs/PROTOCOL.md, "Retention"): {@code proof} proves the sub-record's
   * leaf hash in the target under {@code anchor}; {@code witnessProof} proves a record X of the capsule
   * under the same anchor, with X's writer entry, which carries the retention policy P of the state
   * before X; the target must be a data record and P must let X drop it
   * ({@link RetentionPolicy#letsDrop}). Headers alone decide it: no clock is involved.
   *
   * @return the target's and the witness's headers and the policy
   * @throws VerificationException {@link Failure#NOT_DROPPABLE} when the witness and policy do not let
   *     the sub-record go, or any failure of the two proofs
   */
  public Dropped verifyDropped(@Nullable Hash anchorOrNull, Hash target, long index, Hash leafHash,
      SubRecordProof proof, RecordProof witnessProof) throws VerificationException {
    RecordHeader header = verifySubRecordLeaf(anchorOrNull, target, index, leafHash, proof);
    RecordHeader witness = verifyRecord(anchorOrNull, witnessProof.target().hash(), witnessProof);
    if (header.kind() != RecordKind.DATA) {
      throw new VerificationException(Failure.NOT_DROPPABLE,
          "record " + target + " is a membership record, whose payload is never dropped");
    }
    MemberEntryProof entry = witnessProof.writerEntryOrNull();
    if (entry == null) { // verifyRecord refused a version-2 witness without its entry
      throw new VerificationException(Failure.NOT_DROPPABLE,
          "witness " + witness.hash() + " is a version-1 record: its capsule has no retention policy");
    }
    RetentionPolicy policy = entry.retention();
    if (!policy.letsDrop(header.height(), header.timestampMillis(), witness.height(), witness.timestampMillis())) {
      throw new VerificationException(Failure.NOT_DROPPABLE, "the retention policy before witness "
          + witness.hash() + " (height " + witness.height() + ", " + witness.timestampMillis() + " ms) is "
          + policy + ", which keeps record " + target + " (height " + header.height() + ", "
          + header.timestampMillis() + " ms)");
    }
    return new Dropped(header, witness, policy);
  }

  /**
   * A verified "dropped" answer: the record whose sub-record was dropped, the witness that let it go,
   * and the retention policy before the witness.
   */
  public record Dropped(RecordHeader record, RecordHeader witness, RetentionPolicy policy) {}

  /** A version-2 or 3 target's writer held the right for it in the state its header's member root names. */
  private static void checkWriterEntry(RecordHeader target, @Nullable MemberEntryProof entry)
      throws VerificationException {
    Hash memberRoot = target.memberRootOrNull();
    if (memberRoot == null) {
      if (entry != null) {
        throw new VerificationException(
            Failure.MALFORMED_ENCODING, "a proof of version-1 record " + target.hash() + " carries a member entry");
      }
      return;
    }
    if (entry == null) {
      throw new VerificationException(
          Failure.BAD_MEMBER_ROOT,
          "the proof of version-2 record " + target.hash() + " lacks its writer's entry in the member root");
    }
    int bits = entry.verify(target.writer(), memberRoot);
    boolean allowed = target.kind() == RecordKind.DATA ? (bits & Rights.ADD) != 0 : bits != 0;
    if (!allowed) {
      throw new VerificationException(
          Failure.WRITER_NOT_ALLOWED,
          "writer " + target.writer() + " of " + target.hash() + " held bits " + String.format("0x%02x", bits)
              + " before it, without the right for a " + target.kind().name().toLowerCase(java.util.Locale.ROOT)
              + " record");
    }
  }

  private boolean isTrusted(@Nullable Hash anchorOrNull, Hash hash) {
    return hash.equals(anchorOrNull) || (cache != null && cache.getIfPresent(hash) != null);
  }

  private static void checkLink(RecordHeader upper, RecordHeader lower, int index)
      throws VerificationException {
    if (!upper.capsuleId().equals(lower.capsuleId())) {
      throw new VerificationException(
          Failure.WRONG_CAPSULE, "header " + index + " belongs to capsule " + lower.capsuleId()
              + ", the one above it to " + upper.capsuleId());
    }
    int pointer = upper.pointerTo(lower.hash());
    if (pointer == Integer.MIN_VALUE) {
      throw new VerificationException(
          Failure.BROKEN_PATH, "header " + index + " (" + lower.hash() + ") is not named by the header above it");
    }
    long expected =
        pointer == -1 ? upper.height() - 1
            : pointer >= 0 ? SkipPointers.targetHeight(upper.height(), pointer)
            : -1;
    if (expected >= 0 ? lower.height() != expected : lower.height() >= upper.height()) {
      throw new VerificationException(
          Failure.BAD_HEIGHT,
          "header " + index + " has height " + lower.height() + ", which its pointer from height "
              + upper.height() + " rules out");
    }
  }
}
