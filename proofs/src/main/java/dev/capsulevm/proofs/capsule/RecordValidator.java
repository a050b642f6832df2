package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Epochs;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Resolution;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Checks records against their capsule's metadata and the records already held, exactly as a host
 * checks an append from a renter or a record from a peer. Each broken rule has its own {@link Failure}.
 *
 * <p>A version-2 capsule's records are also checked against its members: the header's auth parents
 * and member root must be the ones its parents imply, and its writer must hold the right for it in the
 * state before it (the objective rule: concurrent records on an older branch are judged by their own
 * past). That needs the capsule's membership records, which the caller passes as a {@link Changelog};
 * the methods without one use an empty changelog, which is right for version 1 and for a version-2
 * capsule with no membership record yet.
 *
 * <p>A private (version-3) capsule's records are also checked against its epochs ({@link Epochs}): a
 * data record must be written under the current epoch at it ({@link Failure#BAD_EPOCH}), and a membership
 * record must carry the keystore block its change needs, with the right entries ({@link
 * Failure#BAD_KEYSTORE}). Both rules are objective, like the writer's right.
 */
public final class RecordValidator {
  private static final Changelog NO_OPS = hash -> null;

  private final SignedMetadata metadata;
  private final boolean verifySignatures;
  private final @Nullable Membership membership;

  public RecordValidator(SignedMetadata metadata) {
    this(metadata, true);
  }

  private RecordValidator(SignedMetadata metadata, boolean verifySignatures) {
    this.metadata = metadata;
    this.verifySignatures = verifySignatures;
    this.membership = metadata.metadata().hasMembers() ? new Membership(metadata) : null;
  }

  /**
   * The capsule's membership (its cache is shared by every check); null for a version-1 capsule.
   */
  public @Nullable Membership membershipOrNull() {
    return membership;
  }

  /**
   * A validator that checks every rule but the Ed25519 verification of signatures, the records' and the
   * keystore blocks' card signatures (a record signature must still be present where the policy requires
   * one). For records whose signatures were verified already:
   * replication's {@code ReplicaDag} checks each record from a peer with {@link #validateDetached} as it
   * arrives, then validates the completed batch with this. Also measures what signature checks cost.
   */
  public static RecordValidator withoutSignatureVerification(SignedMetadata metadata) {
    return new RecordValidator(metadata, false);
  }

  /**
   * {@link #validateAppend(List, RecordSource, Changelog)} with no membership records held: for
   * version-1 capsules, and version-2 capsules that have none yet.
   */
  public void validateAppend(List<RecordWithBody> append, RecordSource held) throws VerificationException {
    validateAppend(append, held, NO_OPS);
  }

  /**
   * Validates the records of one append, in order: each may name earlier ones of the same append as
   * parents. Under {@link SigningPolicy#EVERY_RECORD} every record must be signed; under {@link
   * SigningPolicy#HEARTBEAT} the last must be, and every unsigned one must be an ancestor, within the
   * append, of a signed one, so that a signature vouches for it. A membership record is always signed,
   * and counts for the records after it in the same append.
   *
   * @param held the capsule's records before this append
   * @param heldOps the capsule's membership records before this append (unused for version 1)
   * @throws IllegalStateException when {@code heldOps} lacks a membership record {@code held} names
   */
  public void validateAppend(List<RecordWithBody> append, RecordSource held, Changelog heldOps)
      throws VerificationException {
    if (append.isEmpty()) {
      throw new VerificationException(Failure.BAD_PARENTS, "an append holds at least one record");
    }
    Map<Hash, RecordHeader> staged = new HashMap<>();
    RecordSource view = hash -> {
      RecordHeader header = staged.get(hash);
      return header != null ? header : held.headerOrNull(hash);
    };
    Map<Hash, Op> stagedOps = new HashMap<>();
    Changelog ops = hash -> {
      Op op = stagedOps.get(hash);
      return op != null ? op : heldOps.opOrNull(hash);
    };
    boolean everyRecord = metadata.metadata().signingPolicy() == SigningPolicy.EVERY_RECORD;
    for (int i = 0; i < append.size(); i++) {
      RecordWithBody item = append.get(i);
      boolean last = i == append.size() - 1;
      Op op;
      try {
        op = check(item, view, ops, everyRecord || last);
      } catch (VerificationException e) {
        throw new VerificationException(e.failure(), "record " + i + " of the append: " + e.getMessage(), e);
      }
      if (staged.containsKey(item.hash()) || held.headerOrNull(item.hash()) != null) {
        throw new VerificationException(Failure.BAD_PARENTS, "record " + i + " repeats " + item.hash());
      }
      staged.put(item.hash(), item.record().header());
      if (op != null) {
        stagedOps.put(item.hash(), op);
      }
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
   * {@link #validate(RecordWithBody, RecordSource, Changelog, boolean)} with no membership records held.
   */
  public void validate(RecordWithBody item, RecordSource held, boolean signatureRequired)
      throws VerificationException {
    validate(item, held, NO_OPS, signatureRequired);
  }

  /**
   * Validates one record whose parents {@code held} holds.
   *
   * @param heldOps the capsule's membership records below the record (unused for version 1)
   * @param signatureRequired whether an unsigned record is refused (a membership record always is)
   * @return the change the record makes when it is a membership record, else null
   * @throws IllegalStateException when {@code heldOps} lacks a membership record {@code held} names
   */
  public @Nullable MemberChange validate(
      RecordWithBody item, RecordSource held, Changelog heldOps, boolean signatureRequired)
      throws VerificationException {
    Op op = check(item, held, heldOps, signatureRequired);
    return op == null ? null : op.change();
  }

  /**
   * {@link #validate(RecordWithBody, RecordSource, Changelog, boolean)}, returning the membership
   * record's op (its change and, in a private capsule, its keystore block) for the caller's {@link
   * Changelog}; null for a data record.
   */
  public @Nullable Op validateOp(
      RecordWithBody item, RecordSource held, Changelog heldOps, boolean signatureRequired)
      throws VerificationException {
    return check(item, held, heldOps, signatureRequired);
  }

  private @Nullable Op check(
      RecordWithBody item, RecordSource held, Changelog heldOps, boolean signatureRequired)
      throws VerificationException {
    Op op = checkDetached(item, signatureRequired);
    RecordHeader header = item.record().header();
    checkParents(header, held, metadata.capsuleId());
    checkSkipPointers(header, held);
    if (membership != null) {
      checkMembers(membership, header, op, held, heldOps);
    }
    return op;
  }

  /**
   * The auth parents and member root must be what the parents imply, and the writer must hold the
   * right for the record in the state before it; in a private capsule, the epoch rules hold.
   */
  private static void checkMembers(
      Membership membership, RecordHeader header, @Nullable Op op, RecordSource held,
      Changelog heldOps) throws VerificationException {
    List<Hash> expected = membership.authParentsFor(header.parents(), held, heldOps);
    if (expected.size() > RecordHeader.MAX_AUTH_PARENTS) {
      throw new VerificationException(
          Failure.BAD_PARENTS,
          "the parents have " + expected.size() + " latest membership records, more than "
              + RecordHeader.MAX_AUTH_PARENTS + " auth parents");
    }
    if (!expected.equals(header.authParents())) {
      throw new VerificationException(
          Failure.BAD_AUTH_PARENTS, "auth parents are " + header.authParents() + ", the parents imply " + expected);
    }
    Resolution before = membership.resolutionBefore(expected, heldOps);
    Hash root = before.state().root();
    if (!root.equals(header.memberRootOrNull())) {
      throw new VerificationException(
          Failure.BAD_MEMBER_ROOT,
          "member root is " + header.memberRootOrNull() + ", the state before the record has root " + root);
    }
    membership.check(header, op == null ? null : op.change(), heldOps);
    if (membership.isPrivate()) {
      Epochs epochs = membership.epochsBefore(expected, heldOps);
      if (op == null) {
        EpochKey epochKey = header.epochKeyOrNull();
        if (epochKey == null) { // a version-3 header of a data record always carries one
          throw new VerificationException(Failure.MALFORMED_ENCODING, "data record " + header.hash() + " carries no epoch key");
        }
        epochs.checkDataRecord(epochKey);
      } else {
        epochs.checkMembershipRecord(op);
      }
    }
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

  /**
   * Every rule that needs no other record. In a version-2 or 3 capsule that includes the kind's rules
   * (and a keystore block's encoding and card signatures) but not the writer's right or the epoch rules,
   * which depend on the membership records below.
   *
   * @return the op of a membership record, else null
   */
  private @Nullable Op checkDetached(RecordWithBody item, boolean signatureRequired)
      throws VerificationException {
    Metadata rules = metadata.metadata();
    Record record = item.record();
    RecordHeader header = record.header();
    Hash capsuleId = metadata.capsuleId();
    if (!header.capsuleId().equals(capsuleId)) {
      throw new VerificationException(
          Failure.WRONG_CAPSULE, "record names capsule " + header.capsuleId() + ", expected " + capsuleId);
    }
    if (header.version() != rules.version()) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING,
          "capsule format " + rules.version() + " takes record headers of version " + rules.version()
              + ", got version " + header.version());
    }
    boolean membershipRecord = header.kind() == RecordKind.MEMBERSHIP;
    if (rules.version() == Metadata.VERSION && !rules.mayAppend(header.writer())) {
      throw new VerificationException(
          Failure.WRITER_NOT_ALLOWED, "writer " + header.writer() + " may not append to " + capsuleId);
    }
    if (membershipRecord && !record.isSigned()) {
      throw new VerificationException(
          Failure.MISSING_SIGNATURE, "membership record " + header.hash() + " is unsigned; membership records always are");
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
    if (!membershipRecord) {
      return null;
    }
    int count = item.payloads().size();
    if (rules.isPrivate() ? count < 1 || count > 2 : count != 1) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING,
          "a membership record holds " + (rules.isPrivate() ? "1 or 2 sub-records (a change, then a keystore block)"
              : "exactly 1 sub-record") + ", " + header.hash() + " holds " + count);
    }
    MemberChange change;
    Keystore keystore = null;
    try {
      change = MemberChange.parse(item.payloads().get(0));
      if (count == 2) {
        keystore = Keystore.parse(item.payloads().get(1));
      }
    } catch (VerificationException e) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING, "membership record " + header.hash() + ": " + e.getMessage(), e);
    }
    if (change instanceof MemberChange.Rekey && !rules.isPrivate()) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING, "membership record " + header.hash() + ": rekey is for private capsules");
    }
    if (keystore != null && verifySignatures) {
      try {
        keystore.verifyCards();
      } catch (VerificationException e) {
        throw new VerificationException(
            e.failure(), "membership record " + header.hash() + ": " + e.getMessage(), e);
      }
    }
    return Membership.opOf(header, change, keystore);
  }

  private static void checkBody(RecordHeader header, RecordWithBody item, Metadata rules)
      throws VerificationException {
    if (item.isDropped()) {
      checkDroppedBody(header, item, rules);
      return;
    }
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

  /**
   * A dropped record (replication's form): a data record whose leaf hashes hash to the header's
   * sub-record root; whether its witness lets the payloads go is the replica's check, which needs the
   * witness's member state.
   */
  private static void checkDroppedBody(RecordHeader header, RecordWithBody item, Metadata rules)
      throws VerificationException {
    if (rules.version() == Metadata.VERSION) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, "record " + header.hash()
          + " arrived without its payloads, but a version-1 capsule has no retention policy to drop them under");
    }
    if (header.kind() != RecordKind.DATA) {
      throw new VerificationException(Failure.MALFORMED_ENCODING,
          "membership record " + header.hash() + " arrived without its payload: a membership record is never dropped");
    }
    long count = item.subRecordCount();
    if (count > rules.maxSubRecords()) {
      throw new VerificationException(
          Failure.LIMIT_EXCEEDED, count + " sub-records, the capsule allows " + rules.maxSubRecords());
    }
    if (header.subRecordCount() != count) {
      throw new VerificationException(Failure.SUB_RECORD_ROOT_MISMATCH,
          "header counts " + header.subRecordCount() + " sub-records, the dropped body has " + count + " leaf hashes");
    }
    Hash root = item.tree().root();
    if (!root.equals(header.subRecordRoot())) {
      throw new VerificationException(Failure.SUB_RECORD_ROOT_MISMATCH,
          "the dropped body's leaf hashes hash to " + root + ", header says " + header.subRecordRoot());
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
