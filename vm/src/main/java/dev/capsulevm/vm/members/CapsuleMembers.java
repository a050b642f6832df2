package dev.capsulevm.vm.members;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.Membership;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordValidator;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.integrity.MemberStates;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Epochs;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Resolution;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.vm.storage.Snapshot;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * One capsule's validators and membership records as a host keeps them between programs. A record's
 * hash fixes its header and (through the sub-record root) its change and keystore block, so a membership
 * record is parsed once and its {@link Op} kept; the validators keep their {@link Membership}, whose
 * resolutions and epochs are cached by frontier. For a version-1 capsule there are no members: {@link
 * #membershipOrNull()} is null and {@link #checkLive} passes everything. Thread-safe.
 */
public final class CapsuleMembers {
  /**
   * The sub-records of the records the caller holds: sub-record {@code index} of {@code recordHash}, or
   * null when it holds no such record or sub-record. A membership record's sub-records (its change, and
   * in a private capsule its keystore block) are never dropped, so a store always has them.
   */
  @FunctionalInterface
  public interface SubRecords {
    byte @Nullable [] subRecordOrNull(Hash recordHash, long index);
  }

  private final SignedMetadata metadata;
  private final RecordValidator validator;
  private final RecordValidator withoutSignatures;
  private final Map<Hash, Op> ops = new ConcurrentHashMap<>();

  public CapsuleMembers(SignedMetadata metadata) {
    this.metadata = Objects.requireNonNull(metadata, "metadata");
    this.validator = new RecordValidator(metadata);
    this.withoutSignatures = RecordValidator.withoutSignatureVerification(metadata);
  }

  public SignedMetadata metadata() {
    return metadata;
  }

  /** The capsule's validator; without Ed25519 checks for records whose signatures were checked already. */
  public RecordValidator validator(boolean verifySignatures) {
    return verifySignatures ? validator : withoutSignatures;
  }

  /** The capsule's members (shared with {@link #validator(boolean) validator(true)}); null for version 1. */
  public @Nullable Membership membershipOrNull() {
    return validator.membershipOrNull();
  }

  /**
   * The membership records among {@code headers}, each parsed once from its sub-records (the change,
   * and the keystore block when it has one) as {@code bodies} gives them. Only records the caller holds
   * (validated, so their sub-records parse) are looked up: a hash the caller does not hold, or of a data
   * record, answers null.
   *
   * @throws IllegalStateException when a held membership record lacks a sub-record or one does not
   *     parse (a damaged store)
   */
  public Changelog changelog(RecordSource headers, SubRecords bodies) {
    Objects.requireNonNull(headers, "headers");
    Objects.requireNonNull(bodies, "bodies");
    return hash -> {
      Op cached = ops.get(hash);
      if (cached != null) {
        // An op is a function of its record's hash; whether the caller holds the record matters only to
        // lookups that start from what it holds, and those never reach a record it does not hold.
        return cached;
      }
      RecordHeader header = headers.headerOrNull(hash);
      if (header == null || header.kind() != RecordKind.MEMBERSHIP) {
        return null;
      }
      Op op = opOf(header, bodies);
      ops.put(hash, op);
      return op;
    };
  }

  /** The op of held membership record {@code header}: its change and, when it has one, its keystore block. */
  private static Op opOf(RecordHeader header, SubRecords bodies) {
    Hash hash = header.hash();
    long count = header.subRecordCount();
    if (count < 1 || count > 2) {
      throw new IllegalStateException("held membership record " + hash + " has " + count + " sub-records");
    }
    try {
      MemberChange change = MemberChange.parse(requireSubRecord(bodies, hash, 0));
      Keystore keystore = count == 2 ? Keystore.parse(requireSubRecord(bodies, hash, 1)) : null;
      return Membership.opOf(header, change, keystore);
    } catch (VerificationException e) {
      throw new IllegalStateException("held membership record " + hash + " does not parse: " + e.getMessage(), e);
    }
  }

  private static byte[] requireSubRecord(SubRecords bodies, Hash hash, long index) {
    byte[] body = bodies.subRecordOrNull(hash, index);
    if (body == null) {
      throw new IllegalStateException("held membership record " + hash + " has no sub-record " + index);
    }
    return body;
  }

  /** {@link #changelog(RecordSource, SubRecords)} over a snapshot of the capsule. */
  public Changelog changelog(Snapshot snapshot) {
    return changelog(snapshot, snapshot::subRecordOrNull);
  }

  /**
   * The member state before each record {@code headers} holds, for a proof generator: the state its auth
   * parents resolve to. Null for a record not held, and for every record of a version-1 capsule.
   */
  public MemberStates memberStates(RecordSource headers, Changelog changelog) {
    Membership membership = membershipOrNull();
    if (membership == null) {
      return MemberStates.NONE;
    }
    return hash -> {
      RecordHeader header = headers.headerOrNull(hash);
      return header == null ? null : membership.stateBefore(header.authParents(), changelog);
    };
  }

  /**
   * The subjective check of a live append (docs/FORMAT.md, "Members"; docs/PROTOCOL.md, "Members and
   * appends"), after it passed the objective one ({@link RecordValidator#validateAppend}), against the
   * state resolved over every membership record the host holds for the capsule and those of the append
   * before each record:
   *
   * <ul>
   *   <li>each record's writer must also hold the right for it there. A writer removed on one branch can
   *       still sign a record on an older branch whose own past lets it; replicas accept such a record
   *       from a peer, but a host does not take it live;
   *   <li>in a private capsule, a data record's epoch must be usable there ({@link Epochs#isUsable}): an
   *       epoch a removal retired on another branch is refused the same way, since the removed member
   *       holds its secret. Any usable epoch passes, not only the current one (two concurrent rekeys are
   *       both fine).
   * </ul>
   *
   * @param heldMembershipRecords every membership record the host holds for the capsule (its snapshot's
   *     and those staged earlier in the program)
   * @param changelog holds those records' ops
   * @throws VerificationException WRITER_NOT_ALLOWED naming the record, the key, the rule, and the
   *     membership record that took the right away when there is one; BAD_EPOCH naming the record, its
   *     epoch and the membership record that retired it
   */
  public void checkLive(List<RecordWithBody> append, Collection<Hash> heldMembershipRecords, Changelog changelog)
      throws VerificationException {
    Membership membership = membershipOrNull();
    if (membership == null) {
      return;
    }
    Map<Hash, Op> appended = new HashMap<>();
    Changelog all = hash -> {
      Op op = appended.get(hash);
      return op != null ? op : changelog.opOrNull(hash);
    };
    Set<Hash> held = new HashSet<>(heldMembershipRecords);
    PublicKey creator = metadata.metadata().creator();
    for (int i = 0; i < append.size(); i++) {
      RecordWithBody item = append.get(i);
      RecordHeader header = item.record().header();
      List<Hash> frontier = frontier(held, all);
      Resolution current = membership.resolutionBefore(frontier, all);
      MemberState state = current.state();
      PublicKey writer = header.writer();
      Op op = header.kind() == RecordKind.MEMBERSHIP ? opOf(item) : null;
      String refusal;
      if (op == null) {
        refusal = Rights.writeRefusalOrNull(state, writer);
      } else {
        refusal = state.bitsOf(writer) == 0
            ? "key " + writer.toHex() + " is not a member"
            : Rights.check(state, creator, writer, op.change());
      }
      if (refusal != null) {
        Hash removedBy = current.removedByOrNull(writer);
        throw new VerificationException(Failure.WRITER_NOT_ALLOWED, "record " + i
            + " of the append, by the capsule's current members: " + refusal
            + (removedBy == null ? "" : " (membership record " + removedBy + " took its bits away)"));
      }
      if (op == null && membership.isPrivate()) {
        String stale = staleEpochOrNull(header, membership.epochsBefore(frontier, all), current, held, all);
        if (stale != null) {
          throw new VerificationException(Failure.BAD_EPOCH, "record " + i
              + " of the append, by the capsule's current members: " + stale
              + ": refresh the capsule's heads and rebuild");
        }
      }
      if (op != null) {
        appended.put(item.hash(), op);
        held.add(item.hash());
      }
    }
  }

  /**
   * Why a private capsule's data record may not be taken live, or null when its epoch is usable over every
   * membership record held: named with the membership record that retired the epoch (took read from one
   * of its holders), or that started it when the current members make that record void.
   */
  private static @Nullable String staleEpochOrNull(RecordHeader header, Epochs epochs, Resolution current,
      Set<Hash> held, Changelog changelog) {
    EpochKey key = Objects.requireNonNull(header.epochKeyOrNull(), "a validated data record of a private capsule");
    if (epochs.isUsable(key)) {
      return null;
    }
    if (!epochs.isEpoch(key)) {
      for (Hash hash : held) {
        Op op = changelog.opOrNull(hash);
        Keystore block = op == null ? null : op.keystoreOrNull();
        if (block != null && block.type() == Keystore.Type.ROTATE && block.epochKey().equals(key)) {
          return "epoch " + key.toHex() + " was started by membership record " + hash
              + ", which the capsule's current members make void";
        }
      }
      return "epoch " + key.toHex() + " is no epoch of the capsule's current members";
    }
    MemberState state = current.state();
    PublicKey firstNonReader = null;
    for (PublicKey holder : epochs.holders(key)) {
      if ((state.bitsOf(holder) & Rights.READ) != 0) {
        continue;
      }
      Hash removedBy = current.removedByOrNull(holder);
      if (removedBy != null) {
        return "epoch " + key.toHex() + " was retired by membership record " + removedBy + " (it took read from "
            + holder.toHex() + ", who holds the epoch's secret)";
      }
      if (firstNonReader == null) {
        firstNonReader = holder;
      }
    }
    return "epoch " + key.toHex() + " is held by " + Objects.requireNonNull(firstNonReader, "an unusable epoch's holder")
        .toHex() + ", who is not a reader among the capsule's current members";
  }

  /** The op of a membership record that passed validation: its change and keystore block. */
  private static Op opOf(RecordWithBody item) {
    try {
      return Membership.opOf(item);
    } catch (VerificationException e) {
      throw new IllegalStateException("a validated membership record does not parse: " + e.getMessage(), e);
    }
  }

  /**
   * The records of {@code ops} (a set closed under auth parents) that are no other's auth parent: the
   * frontier whose resolution covers them all, ascending.
   */
  private static List<Hash> frontier(Set<Hash> ops, Changelog changelog) {
    Set<Hash> below = new HashSet<>();
    for (Hash hash : ops) {
      Op op = changelog.opOrNull(hash);
      if (op == null) {
        throw new IllegalStateException("the changelog lacks held membership record " + hash);
      }
      below.addAll(op.authParents());
    }
    List<Hash> frontier = new ArrayList<>();
    for (Hash hash : ops) {
      if (!below.contains(hash)) {
        frontier.add(hash);
      }
    }
    frontier.sort(null);
    return frontier;
  }
}
