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
 * hash fixes its header and (through the sub-record root) its change, so a membership record is parsed
 * once and its {@link Op} kept; the validators keep their {@link Membership}, whose resolutions are
 * cached by frontier. For a version-1 capsule there are no members: {@link #membershipOrNull()} is null
 * and {@link #checkLive} passes everything. Thread-safe.
 */
public final class CapsuleMembers {
  /** The first sub-record of a record the caller holds, or null when it holds no such record. */
  @FunctionalInterface
  public interface ChangeBodies {
    byte @Nullable [] changeBodyOrNull(Hash recordHash);
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
   * The membership records among {@code headers}, each parsed once from the first sub-record
   * {@code bodies} gives. Only records the caller holds (validated, so their change parses) are looked
   * up: a hash the caller does not hold, or of a data record, answers null.
   *
   * @throws IllegalStateException when a held membership record has no change body that parses (a
   *     damaged store)
   */
  public Changelog changelog(RecordSource headers, ChangeBodies bodies) {
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
      byte[] body = bodies.changeBodyOrNull(hash);
      if (body == null) {
        throw new IllegalStateException("held membership record " + hash + " has no sub-record 0");
      }
      Op op;
      try {
        op = Membership.opOf(header, MemberChange.parse(body));
      } catch (VerificationException e) {
        throw new IllegalStateException("held membership record " + hash + " holds no change: " + e.getMessage(), e);
      }
      ops.put(hash, op);
      return op;
    };
  }

  /** {@link #changelog(RecordSource, ChangeBodies)} over a snapshot of the capsule. */
  public Changelog changelog(Snapshot snapshot) {
    return changelog(snapshot, hash -> snapshot.subRecordOrNull(hash, 0));
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
   * The subjective check of a live append (docs/FORMAT.md, "Members"), after it passed the objective
   * one ({@link RecordValidator#validateAppend}): each record's writer must also hold the right for it in
   * the state resolved over every membership record the host holds for the capsule and those of the
   * append before it. A writer removed on one branch can still sign a record on an older branch whose
   * own past lets it; replicas accept such a record from a peer, but a host does not take it live.
   *
   * @param heldMembershipRecords every membership record the host holds for the capsule (its snapshot's
   *     and those staged earlier in the program)
   * @param changelog holds those records' ops
   * @throws VerificationException WRITER_NOT_ALLOWED naming the record, the key, the rule, and the
   *     membership record that took the right away when there is one
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
      Resolution current = membership.resolutionBefore(frontier(held, all), all);
      MemberState state = current.state();
      PublicKey writer = header.writer();
      MemberChange change = header.kind() == RecordKind.MEMBERSHIP ? changeOf(item) : null;
      String refusal;
      if (change == null) {
        refusal = Rights.writeRefusalOrNull(state, writer);
      } else {
        refusal = state.bitsOf(writer) == 0
            ? "key " + writer.toHex() + " is not a member"
            : Rights.check(state, creator, writer, change);
      }
      if (refusal != null) {
        Hash removedBy = current.removedByOrNull(writer);
        throw new VerificationException(Failure.WRITER_NOT_ALLOWED, "record " + i
            + " of the append, by the capsule's current members: " + refusal
            + (removedBy == null ? "" : " (membership record " + removedBy + " took its bits away)"));
      }
      if (change != null) {
        appended.put(item.hash(), Membership.opOf(header, change));
        held.add(item.hash());
      }
    }
  }

  /** The change of a membership record that passed validation. */
  private static MemberChange changeOf(RecordWithBody item) {
    try {
      return MemberChange.parse(item.payloads().get(0));
    } catch (VerificationException e) {
      throw new IllegalStateException("a validated membership record holds no change: " + e.getMessage(), e);
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
