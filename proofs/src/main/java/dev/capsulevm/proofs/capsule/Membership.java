package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.Epochs;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Resolution;
import dev.capsulevm.proofs.members.Resolver;
import dev.capsulevm.proofs.members.Rights;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The members of one version-2 or version-3 capsule as its records see them (docs/FORMAT.md, "Members"):
 * which membership records lie below a record (its auth parents), the member state before it, whether its
 * writer held the right for it there, and for a private (version-3) capsule the {@link Epochs} at it. The
 * state before a record depends only on its auth parents (its frontier), so resolutions and epochs are
 * cached by frontier: the records between two membership changes share them. Thread-safe.
 *
 * <p>The membership records themselves come from a {@link Changelog} the caller keeps (a host: every
 * membership record it holds for the capsule, plus those staged by the append under validation).
 */
public final class Membership {
  /** Frontiers whose resolution is kept; a capsule rarely has many live at once. */
  private static final int CACHED_FRONTIERS = 64;

  private final Hash capsuleId;
  private final PublicKey creator;
  private final MemberState genesis;
  private final @Nullable Keystore genesisKeystore;
  private final Map<List<Hash>, Before> befores =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<List<Hash>, Before> eldest) {
          return size() > CACHED_FRONTIERS;
        }
      };

  /** What a frontier resolves to: the resolution and, in a private capsule, the epochs. */
  private record Before(Resolution resolution, @Nullable Epochs epochs) {}

  /**
   * The membership of the capsule {@code metadata} roots.
   *
   * @throws IllegalArgumentException when the metadata is version 1 (version-1 capsules have fixed
   *     writers and no members)
   */
  public Membership(SignedMetadata metadata) {
    Objects.requireNonNull(metadata, "metadata");
    if (!metadata.metadata().hasMembers()) {
      throw new IllegalArgumentException(
          "capsule " + metadata.capsuleId() + " has version-" + metadata.metadata().version()
              + " metadata, which has no members");
    }
    this.capsuleId = metadata.capsuleId();
    this.creator = metadata.metadata().creator();
    this.genesis = MemberState.genesis(metadata.metadata());
    this.genesisKeystore = metadata.metadata().genesisKeystoreOrNull();
  }

  /** Whether the capsule is private (version 3): its records have epochs. */
  public boolean isPrivate() {
    return genesisKeystore != null;
  }

  /** The capsule whose members these are. */
  public Hash capsuleId() {
    return capsuleId;
  }

  /** The state at the capsule's genesis: the creator and the metadata's writers. */
  public MemberState genesis() {
    return genesis;
  }

  /**
   * The auth parents a record with {@code parents} must carry: of the membership records that are its
   * parents or their auth parents, those that are not below another (by auth-parent links), ascending.
   *
   * @param source holds every parent's header (the capsule id needs none: it contributes nothing)
   * @param changelog holds every membership record below the parents
   * @throws IllegalArgumentException when a parent is not in {@code source}
   */
  public List<Hash> authParentsFor(List<Hash> parents, RecordSource source, Changelog changelog) {
    TreeSet<Hash> candidates = new TreeSet<>();
    for (Hash parent : parents) {
      if (parent.equals(capsuleId)) {
        continue;
      }
      RecordHeader header = source.headerOrNull(parent);
      if (header == null) {
        throw new IllegalArgumentException("parent " + parent + " is not in the record source");
      }
      candidates.addAll(header.authParents());
      if (header.kind() == RecordKind.MEMBERSHIP) {
        candidates.add(parent);
      }
    }
    if (candidates.size() > 1) {
      candidates.removeAll(belowAny(candidates, changelog));
    }
    return List.copyOf(candidates);
  }

  /**
   * The candidates that lie below another candidate. The walk follows auth-parent links down from the
   * candidates and stops below the lowest candidate's height, since nothing there can be a candidate.
   */
  private static Set<Hash> belowAny(Set<Hash> candidates, Changelog changelog) {
    long lowest = Long.MAX_VALUE;
    ArrayDeque<Hash> pending = new ArrayDeque<>();
    for (Hash candidate : candidates) {
      Op op = requireOp(changelog, candidate);
      lowest = Math.min(lowest, op.height());
      pending.addAll(op.authParents());
    }
    Set<Hash> seen = new HashSet<>();
    Set<Hash> below = new HashSet<>();
    while (!pending.isEmpty()) {
      Hash next = pending.pop();
      if (!seen.add(next)) {
        continue;
      }
      if (candidates.contains(next)) {
        below.add(next);
      }
      Op op = requireOp(changelog, next);
      if (op.height() > lowest) {
        pending.addAll(op.authParents());
      }
    }
    return below;
  }

  private static Op requireOp(Changelog changelog, Hash hash) {
    Op op = changelog.opOrNull(hash);
    if (op == null) {
      throw new IllegalStateException("the changelog lacks membership record " + hash);
    }
    return op;
  }

  /**
   * The member state before a record whose auth parents are {@code authParents}: genesis when empty.
   *
   * @throws IllegalStateException when {@code changelog} lacks a membership record at or below them
   */
  public MemberState stateBefore(List<Hash> authParents, Changelog changelog) {
    return resolutionBefore(authParents, changelog).state();
  }

  /**
   * The resolution of every membership record at or below {@code authParents}: its state is the state
   * before a record with these auth parents, and it names the records that took rights away.
   */
  public Resolution resolutionBefore(List<Hash> authParents, Changelog changelog) {
    return before(authParents, changelog).resolution();
  }

  /**
   * The epochs at a record whose auth parents are {@code authParents} (docs/FORMAT.md, "Members",
   * "Epochs"): which epochs exist, which are usable, and the current one.
   *
   * @throws IllegalStateException when the capsule is not private, or {@code changelog} lacks a
   *     membership record at or below them
   */
  public Epochs epochsBefore(List<Hash> authParents, Changelog changelog) {
    Epochs epochs = before(authParents, changelog).epochs();
    if (epochs == null) {
      throw new IllegalStateException("capsule " + capsuleId + " is not private: its records have no epochs");
    }
    return epochs;
  }

  private Before before(List<Hash> authParents, Changelog changelog) {
    List<Hash> frontier = List.copyOf(authParents);
    synchronized (befores) {
      Before cached = befores.get(frontier);
      if (cached != null) {
        return cached;
      }
    }
    List<Op> closure = Changelog.closure(changelog, frontier);
    requireComplete(frontier, closure);
    Resolution resolution = Resolver.resolve(genesis, creator, closure);
    Epochs epochs = genesisKeystore == null ? null : Epochs.at(genesisKeystore, closure, resolution);
    Before before = new Before(resolution, epochs);
    synchronized (befores) {
      befores.put(frontier, before);
    }
    return before;
  }

  /**
   * Refuses a closure the changelog could not complete: a resolution over missing records would be
   * wrong, and cached.
   */
  private static void requireComplete(List<Hash> frontier, List<Op> closure) {
    Set<Hash> present = new HashSet<>();
    for (Op op : closure) {
      present.add(op.hash());
    }
    for (Hash hash : frontier) {
      if (!present.contains(hash)) {
        throw new IllegalStateException("the changelog lacks membership record " + hash);
      }
    }
    for (Op op : closure) {
      for (Hash parent : op.authParents()) {
        if (!present.contains(parent)) {
          throw new IllegalStateException(
              "the changelog lacks membership record " + parent + ", an auth parent of " + op.hash());
        }
      }
    }
  }

  /**
   * The objective check of a version-2 record: its writer held the right for it in the state before
   * it (the state its auth parents resolve to). A data record needs add; a membership record needs
   * its author to be a member and to hold what {@link Rights#check} asks for the change.
   *
   * @param changeOrNull the change a membership record makes; null for a data record
   * @return the state before the record
   * @throws VerificationException WRITER_NOT_ALLOWED naming the key, the rule and, when an effective
   *     membership record took the writer's bits away, that record
   */
  public MemberState check(RecordHeader header, @Nullable MemberChange changeOrNull, Changelog changelog)
      throws VerificationException {
    Resolution resolution = resolutionBefore(header.authParents(), changelog);
    MemberState state = resolution.state();
    PublicKey writer = header.writer();
    String refusal;
    if (header.kind() == RecordKind.DATA) {
      refusal = Rights.writeRefusalOrNull(state, writer);
    } else {
      Objects.requireNonNull(changeOrNull, "a membership record's change");
      // A non-member's "leave" would change nothing, yet be a record anyone could append; and no proof
      // of it could carry the writer's entry. So a membership record needs a member, always.
      refusal = state.bitsOf(writer) == 0
          ? "key " + writer.toHex() + " is not a member"
          : Rights.check(state, creator, writer, changeOrNull);
    }
    if (refusal != null) {
      Hash removedBy = resolution.removedByOrNull(writer);
      throw new VerificationException(
          Failure.WRITER_NOT_ALLOWED,
          refusal + (removedBy == null ? "" : " (membership record " + removedBy + " took its bits away)"));
    }
    return state;
  }

  /** The op a membership record without a keystore block makes, for a {@link Changelog}. */
  public static Op opOf(RecordHeader header, MemberChange change) {
    return opOf(header, change, null);
  }

  /**
   * The op a membership record makes, for a {@link Changelog}.
   *
   * @param keystoreOrNull the record's keystore block (sub-record 1 in a private capsule), or null
   */
  public static Op opOf(RecordHeader header, MemberChange change, @Nullable Keystore keystoreOrNull) {
    if (header.kind() != RecordKind.MEMBERSHIP) {
      throw new IllegalArgumentException(header.hash() + " is not a membership record");
    }
    return new Op(header.hash(), header.height(), header.authParents(), header.writer(), change, keystoreOrNull);
  }

  /**
   * The op of a membership record with its body: the change (sub-record 0) and the keystore block
   * (sub-record 1, when there is one), parsed. Checks only their encodings; {@link RecordValidator}
   * checks the rest.
   *
   * @throws IllegalArgumentException when {@code item} is not a membership record, or was dropped
   * @throws VerificationException {@link Failure#MALFORMED_ENCODING} when a sub-record does not parse or
   *     there are not 1 or 2 of them
   */
  public static Op opOf(RecordWithBody item) throws VerificationException {
    RecordHeader header = item.record().header();
    if (header.kind() != RecordKind.MEMBERSHIP || item.isDropped()) {
      throw new IllegalArgumentException(header.hash() + " is not a membership record with its body");
    }
    List<byte[]> payloads = item.payloads();
    if (payloads.isEmpty() || payloads.size() > 2) {
      throw new VerificationException(Failure.MALFORMED_ENCODING,
          "membership record " + header.hash() + " holds " + payloads.size() + " sub-records, not 1 or 2");
    }
    MemberChange change = MemberChange.parse(payloads.get(0));
    Keystore keystore = payloads.size() == 2 ? Keystore.parse(payloads.get(1)) : null;
    return opOf(header, change, keystore);
  }
}
