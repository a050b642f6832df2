package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.merkle.Merkle;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks records against their capsule's metadata and the records already held, exactly as a host
 * checks an append from a renter or a record from a peer. Each broken rule has its own {@link Failure}.
 */
public final class RecordValidator {
  private final SignedMetadata metadata;
  private final boolean verifySignatures;

  public RecordValidator(SignedMetadata metadata) {
    this(metadata, true);
  }

  private RecordValidator(SignedMetadata metadata, boolean verifySignatures) {
    this.metadata = metadata;
    this.verifySignatures = verifySignatures;
  }

  /**
   * A validator that checks every rule but the Ed25519 verification of signatures (a signature must still
   * be present where the policy requires one). For records whose signatures were verified already:
   * replication's {@code ReplicaDag} checks each record from a peer with {@link #validateDetached} as it
   * arrives, then validates the completed batch with this. Also measures what signature checks cost.
   */
  public static RecordValidator withoutSignatureVerification(SignedMetadata metadata) {
    return new RecordValidator(metadata, false);
  }

  /**
   * Validates the records of one append, in order: each may name earlier ones of the same append as
   * parents. Under {@link SigningPolicy#EVERY_RECORD} every record must be signed; under {@link
   * SigningPolicy#HEARTBEAT} the last must be, and every unsigned one must be an ancestor, within the
   * append, of a signed one, so that a signature vouches for it.
   *
   * @param held the capsule's records before this append
   */
  public void validateAppend(List<RecordWithBody> append, RecordSource held) throws VerificationException {
    if (append.isEmpty()) {
      throw new VerificationException(Failure.BAD_PARENTS, "an append holds at least one record");
    }
    Map<Hash, RecordHeader> staged = new HashMap<>();
    RecordSource view = hash -> {
      RecordHeader header = staged.get(hash);
      return header != null ? header : held.headerOrNull(hash);
    };
    boolean everyRecord = metadata.metadata().signingPolicy() == SigningPolicy.EVERY_RECORD;
    for (int i = 0; i < append.size(); i++) {
      RecordWithBody item = append.get(i);
      boolean last = i == append.size() - 1;
      try {
        validate(item, view, everyRecord || last);
      } catch (VerificationException e) {
        throw new VerificationException(e.failure(), "record " + i + " of the append: " + e.getMessage(), e);
      }
      if (staged.containsKey(item.hash()) || held.headerOrNull(item.hash()) != null) {
        throw new VerificationException(Failure.BAD_PARENTS, "record " + i + " repeats " + item.hash());
      }
      staged.put(item.hash(), item.record().header());
    }
    if (!everyRecord) {
      requireVouched(append, staged);
    }
  }

  private static void requireVouched(List<RecordWithBody> append, Map<Hash, RecordHeader> staged)
      throws VerificationException {
    Set<Hash> vouched = new HashSet<>();
    ArrayDeque<RecordHeader> work = new ArrayDeque<>();
    for (RecordWithBody item : append) {
      if (item.record().isSigned()) {
        work.add(item.record().header());
      }
    }
    while (!work.isEmpty()) {
      RecordHeader next = work.remove();
      if (vouched.add(next.hash())) {
        for (Hash parent : next.parents()) {
          RecordHeader stagedParent = staged.get(parent);
          if (stagedParent != null) {
            work.add(stagedParent);
          }
        }
      }
    }
    for (int i = 0; i < append.size(); i++) {
      if (!vouched.contains(append.get(i).hash())) {
        throw new VerificationException(
            Failure.MISSING_SIGNATURE,
            "record " + i + " is unsigned and no signed record of the append descends from it");
      }
    }
  }

  /**
   * Validates one record whose parents {@code held} holds.
   *
   * @param signatureRequired whether an unsigned record is refused
   */
  public void validate(RecordWithBody item, RecordSource held, boolean signatureRequired)
      throws VerificationException {
    checkDetached(item, signatureRequired);
    RecordHeader header = item.record().header();
    checkParents(header, held, metadata.capsuleId());
    checkSkipPointers(header, held);
  }

  /**
   * Checks every rule that needs no other record: the capsule id, the writer's permission, a present
   * signature (and its presence under {@link SigningPolicy#EVERY_RECORD}), and the body against the
   * header and the capsule's limits. A replica checks a peer's record this way as soon as it arrives,
   * before its parents do; {@link #validateAppend} still has to pass before it is stored.
   */
  public void validateDetached(RecordWithBody item) throws VerificationException {
    checkDetached(item, metadata.metadata().signingPolicy() == SigningPolicy.EVERY_RECORD);
  }

  private void checkDetached(RecordWithBody item, boolean signatureRequired) throws VerificationException {
    Metadata rules = metadata.metadata();
    Record record = item.record();
    RecordHeader header = record.header();
    Hash capsuleId = metadata.capsuleId();
    if (!header.capsuleId().equals(capsuleId)) {
      throw new VerificationException(
          Failure.WRONG_CAPSULE, "record names capsule " + header.capsuleId() + ", expected " + capsuleId);
    }
    if (!rules.mayAppend(header.writer())) {
      throw new VerificationException(
          Failure.WRITER_NOT_ALLOWED, "writer " + header.writer() + " may not append to " + capsuleId);
    }
    if (record.isSigned()) {
      if (verifySignatures && !record.hasValidSignature()) {
        throw new VerificationException(
            Failure.BAD_SIGNATURE, "signature over " + header.hash() + " does not verify under " + header.writer());
      }
    } else if (signatureRequired) {
      throw new VerificationException(Failure.MISSING_SIGNATURE, "record " + header.hash() + " is unsigned");
    }
    checkBody(header, item, rules);
  }

  private static void checkBody(RecordHeader header, RecordWithBody item, Metadata rules)
      throws VerificationException {
    List<byte[]> payloads = item.payloads();
    if (payloads.size() > rules.maxSubRecords()) {
      throw new VerificationException(
          Failure.LIMIT_EXCEEDED,
          payloads.size() + " sub-records, the capsule allows " + rules.maxSubRecords());
    }
    for (int i = 0; i < payloads.size(); i++) {
      if (payloads.get(i).length > rules.maxSubRecordBytes()) {
        throw new VerificationException(
            Failure.LIMIT_EXCEEDED,
            "sub-record " + i + " has " + payloads.get(i).length + " bytes, the capsule allows "
                + rules.maxSubRecordBytes());
      }
    }
    if (header.subRecordCount() != payloads.size()) {
      throw new VerificationException(
          Failure.SUB_RECORD_ROOT_MISMATCH,
          "header counts " + header.subRecordCount() + " sub-records, body has " + payloads.size());
    }
    Hash root = item.tree().root();
    if (!root.equals(header.subRecordRoot())) {
      throw new VerificationException(
          Failure.SUB_RECORD_ROOT_MISMATCH,
          "sub-records hash to " + root + ", header says " + header.subRecordRoot());
    }
  }

  private static void checkParents(RecordHeader header, RecordSource held, Hash capsuleId)
      throws VerificationException {
    long greatest = -1;
    long primaryHeight = -1;
    for (int i = 0; i < header.parents().size(); i++) {
      Hash parent = header.parents().get(i);
      long height;
      if (parent.equals(capsuleId)) {
        if (header.parents().size() != 1) {
          throw new VerificationException(
              Failure.BAD_PARENTS, "the capsule id can only be the sole parent of a first record");
        }
        height = 0;
      } else {
        RecordHeader parentHeader = held.headerOrNull(parent);
        if (parentHeader == null) {
          throw new VerificationException(Failure.BAD_PARENTS, "parent " + i + " (" + parent + ") is unknown");
        }
        if (!parentHeader.capsuleId().equals(capsuleId)) {
          throw new VerificationException(
              Failure.WRONG_CAPSULE, "parent " + i + " belongs to capsule " + parentHeader.capsuleId());
        }
        height = parentHeader.height();
      }
      if (i == 0) {
        primaryHeight = height;
      }
      greatest = Math.max(greatest, height);
    }
    if (header.height() != greatest + 1) {
      throw new VerificationException(
          Failure.BAD_HEIGHT,
          "height " + header.height() + " is not 1 + the greatest parent height " + greatest);
    }
    if (primaryHeight != greatest) {
      throw new VerificationException(
          Failure.BAD_PARENTS,
          "the first parent has height " + primaryHeight + ", not the greatest parent height " + greatest);
    }
  }

  private static void checkSkipPointers(RecordHeader header, RecordSource held)
      throws VerificationException {
    List<Hash> expected;
    try {
      expected = Record.expectedSkipPointers(header.height(), header.primaryParent(), held);
    } catch (IllegalArgumentException e) {
      throw new VerificationException(Failure.BAD_SKIP_POINTER, e.getMessage());
    }
    for (int i = 0; i < expected.size(); i++) {
      if (!expected.get(i).equals(header.skipPointers().get(i))) {
        throw new VerificationException(
            Failure.BAD_SKIP_POINTER,
            "skip pointer " + i + " must point to " + expected.get(i) + " at height "
                + SkipPointers.targetHeight(header.height(), i) + ", points to " + header.skipPointers().get(i));
      }
    }
  }
}
