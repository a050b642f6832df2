package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The epochs of a private capsule as one record R sees them (docs/FORMAT.md, "Members", "Epochs"),
 * computed from the genesis keystore block and the membership records in the closure of R's auth
 * parents with their resolution. Objective: it depends only on R's past, so every host and reader gets
 * the same answer.
 *
 * <ul>
 *   <li>The <b>epochs</b> are the genesis epoch and one per effective record carrying a rotate block, in
 *       creation order (genesis, then resolution order).
 *   <li>The <b>holders</b> of an epoch key are the members of every entry that wraps it, in the genesis
 *       block and in every record of the closure, effective or void (a void record's wraps were still
 *       published); the author of every rotate block that starts it (it made the secret, whether or not
 *       it wrapped it for itself); and the holders of every key whose rotate block links to it (a previous
 *       link gives whoever holds the newer secret the older one).
 *   <li>An epoch is <b>usable</b> at R when every holder is a reader in the state before R.
 *   <li>The <b>current</b> epoch is the usable epoch created last; none when none is usable.
 * </ul>
 *
 * <p>It also holds the two rules a validator applies with them: {@link #checkDataRecord} (a data record
 * is written under the current epoch) and {@link #checkMembershipRecord(Op)} (a membership record carries the
 * keystore block its change needs, with the right entries). Immutable.
 */
public final class Epochs {
  private final MemberState before;
  private final Resolution resolution;
  private final List<EpochKey> all;
  private final Map<EpochKey, @Nullable Hash> createdBy;
  /** Members of the entries that wrap each key directly, over every block, and the authors of its rotate blocks. */
  private final Map<EpochKey, SortedSet<PublicKey>> wrappedFor;
  /** For each key, the keys whose rotate blocks link to it (newer epochs that seal it). */
  private final Map<EpochKey, Set<EpochKey>> linkedFrom;
  /** Every key a block names, as its epoch or as a previous epoch. */
  private final Set<EpochKey> named;
  /** Keys some holder of which is not a reader. */
  private final Set<EpochKey> tainted;
  private final @Nullable EpochKey current;

  private Epochs(
      MemberState before,
      Resolution resolution,
      List<EpochKey> all,
      Map<EpochKey, @Nullable Hash> createdBy,
      Map<EpochKey, SortedSet<PublicKey>> wrappedFor,
      Map<EpochKey, Set<EpochKey>> linkedFrom,
      Set<EpochKey> named,
      Set<EpochKey> tainted) {
    this.before = before;
    this.resolution = resolution;
    this.all = List.copyOf(all);
    this.createdBy = createdBy;
    this.wrappedFor = wrappedFor;
    this.linkedFrom = linkedFrom;
    this.named = named;
    this.tainted = tainted;
    EpochKey last = null;
    for (EpochKey key : all) {
      if (!tainted.contains(key)) {
        last = key;
      }
    }
    this.current = last;
  }

  /**
   * The epochs at a record whose auth-parent closure is {@code closure} ({@link Changelog#closure}) and
   * whose state before is {@code resolution} (the {@link Resolver} of that closure).
   *
   * @param genesis the metadata's genesis keystore block (a rotate block)
   * @throws IllegalArgumentException when {@code genesis} is not a rotate block
   */
  public static Epochs at(Keystore genesis, Collection<Op> closure, Resolution resolution) {
    Objects.requireNonNull(genesis, "genesis");
    Objects.requireNonNull(closure, "closure");
    Objects.requireNonNull(resolution, "resolution");
    if (genesis.type() != Keystore.Type.ROTATE) {
      throw new IllegalArgumentException("the genesis keystore block is a rotate block, got " + genesis.type());
    }
    SortedMap<Hash, Op> byHash = Resolver.byHash(closure);
    List<Keystore> blocks = new ArrayList<>();
    blocks.add(genesis);
    Map<EpochKey, SortedSet<PublicKey>> wrappedFor = new HashMap<>();
    for (Op op : byHash.values()) {
      Keystore block = op.keystoreOrNull();
      if (block != null) {
        blocks.add(block);
        if (block.type() == Keystore.Type.ROTATE) {
          // The author made the secret: it holds the epoch even when it wrapped it for others only (an
          // admin without read), so its removal taints the epoch like any holder's.
          wrappedFor.computeIfAbsent(block.epochKey(), k -> new TreeSet<>()).add(op.author());
        }
      }
    }
    Map<EpochKey, Set<EpochKey>> linksTo = new HashMap<>();
    Map<EpochKey, Set<EpochKey>> linkedFrom = new HashMap<>();
    Set<EpochKey> named = new HashSet<>();
    for (Keystore block : blocks) {
      EpochKey key = block.epochKey();
      named.add(key);
      wrappedFor.computeIfAbsent(key, k -> new TreeSet<>()).addAll(block.members());
      for (Keystore.PreviousLink link : block.previous()) {
        named.add(link.epochKey());
        linksTo.computeIfAbsent(key, k -> new HashSet<>()).add(link.epochKey());
        linkedFrom.computeIfAbsent(link.epochKey(), k -> new HashSet<>()).add(key);
      }
    }
    MemberState before = resolution.state();
    // A key is tainted when a non-reader holds it: a non-reader in one of its own wraps, or in the wraps
    // of a key that links to it (through any number of links).
    ArrayDeque<EpochKey> pending = new ArrayDeque<>();
    Set<EpochKey> tainted = new HashSet<>();
    wrappedFor.forEach((key, members) -> {
      for (PublicKey member : members) {
        if ((before.bitsOf(member) & Rights.READ) == 0) {
          tainted.add(key);
          pending.add(key);
          break;
        }
      }
    });
    while (!pending.isEmpty()) {
      for (EpochKey older : linksTo.getOrDefault(pending.pop(), Set.of())) {
        if (tainted.add(older)) {
          pending.add(older);
        }
      }
    }
    LinkedHashMap<EpochKey, @Nullable Hash> createdBy = new LinkedHashMap<>();
    createdBy.put(genesis.epochKey(), null);
    for (Hash hash : resolution.effective()) {
      Op op = byHash.get(hash);
      Keystore block = op == null ? null : op.keystoreOrNull();
      // A key used twice (which the rules refuse) is created once, by its first block.
      if (block != null && block.type() == Keystore.Type.ROTATE && !createdBy.containsKey(block.epochKey())) {
        createdBy.put(block.epochKey(), hash);
      }
    }
    Map<EpochKey, SortedSet<PublicKey>> frozenWraps = new HashMap<>();
    wrappedFor.forEach((key, members) -> frozenWraps.put(key, Collections.unmodifiableSortedSet(members)));
    Map<EpochKey, Set<EpochKey>> frozenLinks = new HashMap<>();
    linkedFrom.forEach((key, newer) -> frozenLinks.put(key, Set.copyOf(newer)));
    return new Epochs(before, resolution, new ArrayList<>(createdBy.keySet()), Collections.unmodifiableMap(createdBy),
        Map.copyOf(frozenWraps), Map.copyOf(frozenLinks), Set.copyOf(named), Set.copyOf(tainted));
  }

  /** The epochs in creation order: the genesis epoch first, then one per effective rotate block. */
  public List<EpochKey> all() {
    return all;
  }

  /** Whether {@code key} is one of {@link #all()}. */
  public boolean isEpoch(EpochKey key) {
    return createdBy.containsKey(Objects.requireNonNull(key, "key"));
  }

  /** The membership record whose rotate block created epoch {@code key}; null for genesis or a non-epoch. */
  public @Nullable Hash createdByOrNull(EpochKey key) {
    return createdBy.get(Objects.requireNonNull(key, "key"));
  }

  /** Whether some keystore block of the closure (or genesis) names {@code key}, as its epoch or a previous one. */
  public boolean isNamed(EpochKey key) {
    return named.contains(Objects.requireNonNull(key, "key"));
  }

  /** Whether {@code key} is an epoch whose every holder is a reader in the state before the record. */
  public boolean isUsable(EpochKey key) {
    return isEpoch(key) && !tainted.contains(key);
  }

  /** The usable epoch created last, or null when no epoch is usable (then only a rotation helps). */
  public @Nullable EpochKey currentOrNull() {
    return current;
  }

  /**
   * Who holds {@code key}'s secret: the members of every entry wrapping it and the authors of its rotate
   * blocks, and the same for every key that links to it, directly or through other links. Empty for a
   * key no block names.
   */
  public SortedSet<PublicKey> holders(EpochKey key) {
    Objects.requireNonNull(key, "key");
    TreeSet<PublicKey> holders = new TreeSet<>();
    Set<EpochKey> seen = new HashSet<>();
    ArrayDeque<EpochKey> pending = new ArrayDeque<>();
    pending.add(key);
    seen.add(key);
    while (!pending.isEmpty()) {
      EpochKey next = pending.pop();
      holders.addAll(wrappedFor.getOrDefault(next, Collections.emptySortedSet()));
      for (EpochKey newer : linkedFrom.getOrDefault(next, Set.of())) {
        if (seen.add(newer)) {
          pending.add(newer);
        }
      }
    }
    return Collections.unmodifiableSortedSet(holders);
  }

  /** The state before the record these epochs are computed for. */
  public MemberState stateBefore() {
    return before;
  }

  /**
   * Why {@code key} cannot be written under at the record: not an epoch, or a holder that is not a
   * reader (named with the record that took its read away, when an effective one did); null when it is
   * usable.
   */
  public @Nullable String unusableReasonOrNull(EpochKey key) {
    Objects.requireNonNull(key, "key");
    if (!isEpoch(key)) {
      return "no epoch " + key.toHex() + " lies below the record";
    }
    if (!tainted.contains(key)) {
      return null;
    }
    for (PublicKey holder : holders(key)) {
      if ((before.bitsOf(holder) & Rights.READ) == 0) {
        Hash removedBy = resolution.removedByOrNull(holder);
        return "epoch " + key.toHex() + " is held by " + holder.toHex() + ", who is not a reader"
            + (removedBy == null ? "" : " since membership record " + removedBy.toHex());
      }
    }
    throw new AssertionError("a tainted epoch has a holder that is not a reader");
  }

  /**
   * The rule for a data record of a private capsule: it is written under the current epoch.
   *
   * @param epochKey the epoch key of the record's header
   * @throws VerificationException {@link Failure#BAD_EPOCH} when it is another, or no epoch is usable
   */
  public void checkDataRecord(EpochKey epochKey) throws VerificationException {
    Objects.requireNonNull(epochKey, "epochKey");
    if (epochKey.equals(current)) {
      return;
    }
    String why = unusableReasonOrNull(epochKey);
    String detail = why == null ? "" : " (" + why + ")";
    if (current == null) {
      throw new VerificationException(
          Failure.BAD_EPOCH,
          "record is written under epoch " + epochKey.toHex() + ", but no epoch is usable: a member must rekey"
              + detail);
    }
    throw new VerificationException(
        Failure.BAD_EPOCH,
        "record is written under epoch " + epochKey.toHex() + "; the current epoch is " + current.toHex() + detail);
  }

  /**
   * The keystore rules for a membership record of a private capsule by {@code author}, who holds the
   * right for {@code change} (checked before). With S the state before the record and S' = S with the
   * change applied as requested:
   *
   * <ul>
   *   <li>a change that takes read from a member who had it in S, other than the author itself, and a
   *       rekey, carry a rotate block (a member that takes its own read away, by leaving or demoting
   *       itself, needs none: any epoch it would start, it would hold; the epochs it held become
   *       unusable, and a reader rekeys);
   *   <li>a set-member that gives read to a member without it in S carries a rotate block, or a forward
   *       block of the current epoch with an entry for that member;
   *   <li>otherwise a block is optional.
   * </ul>
   *
   * Any block: a rotate block's entries are exactly the readers of S', its epoch key is named by no
   * block below the record, and every previous epoch it links is named by one; a forward block forwards
   * the current epoch to readers of S'. Card signatures are checked where the block is parsed.
   *
   * @param blockOrNull the record's sub-record 1, null when it has none
   * @throws VerificationException {@link Failure#BAD_KEYSTORE} naming what is wrong
   */
  public void checkMembershipRecord(PublicKey author, MemberChange change, @Nullable Keystore blockOrNull)
      throws VerificationException {
    Objects.requireNonNull(author, "author");
    Objects.requireNonNull(change, "change");
    MemberState after = before;
    boolean needsRotation = change instanceof MemberChange.Rekey;
    PublicKey newReader = null;
    if (change instanceof MemberChange.SetMember set) {
      boolean readBefore = (before.bitsOf(set.member()) & Rights.READ) != 0;
      boolean readAfter = (set.bits() & Rights.READ) != 0;
      needsRotation = readBefore && !readAfter && !set.member().equals(author);
      newReader = !readBefore && readAfter ? set.member() : null;
      after = before.withMember(set.member(), set.bits());
    }
    if (blockOrNull == null) {
      if (needsRotation) {
        throw badKeystore(change instanceof MemberChange.Rekey
            ? "a rekey carries a rotate keystore block"
            : "the change takes read from " + ((MemberChange.SetMember) change).member().toHex()
                + ", so the record must carry a rotate keystore block");
      }
      if (newReader != null) {
        throw badKeystore("the change gives read to " + newReader.toHex()
            + ", so the record must carry a rotate block or a forward block of the current epoch with an entry for it");
      }
      return;
    }
    if (blockOrNull.type() == Keystore.Type.ROTATE) {
      checkRotate(blockOrNull, after);
      return;
    }
    if (needsRotation) {
      throw badKeystore(change instanceof MemberChange.Rekey
          ? "a rekey carries a rotate keystore block, not a forward block"
          : "the change takes read from " + ((MemberChange.SetMember) change).member().toHex()
              + ", so the record must carry a rotate block, not a forward block");
    }
    checkForward(blockOrNull, after);
    if (newReader != null && blockOrNull.entryOrNull(newReader) == null) {
      throw badKeystore("the change gives read to " + newReader.toHex()
          + ", but the forward block has no entry for it");
    }
  }

  /** {@link #checkMembershipRecord(PublicKey, MemberChange, Keystore)} for a membership record's op. */
  public void checkMembershipRecord(Op op) throws VerificationException {
    checkMembershipRecord(op.author(), op.change(), op.keystoreOrNull());
  }

  private void checkRotate(Keystore block, MemberState after) throws VerificationException {
    EpochKey key = block.epochKey();
    if (named.contains(key)) {
      throw badKeystore("rotate block starts epoch " + key.toHex() + ", which a keystore block below the record"
          + " already names; a new epoch needs a fresh key");
    }
    for (Keystore.PreviousLink link : block.previous()) {
      if (!named.contains(link.epochKey())) {
        throw badKeystore("rotate block links previous epoch " + link.epochKey().toHex()
            + ", which no keystore block below the record names");
      }
    }
    SortedSet<PublicKey> readers = readersOf(after);
    SortedSet<PublicKey> wrapped = block.members();
    for (PublicKey member : wrapped) {
      if (!readers.contains(member)) {
        throw badKeystore("rotate block wraps epoch " + key.toHex() + " for " + member.toHex()
            + ", who is not a reader after the record");
      }
    }
    for (PublicKey reader : readers) {
      if (!wrapped.contains(reader)) {
        throw badKeystore("rotate block wraps epoch " + key.toHex() + " for the readers after the record, but has"
            + " no entry for reader " + reader.toHex());
      }
    }
  }

  private void checkForward(Keystore block, MemberState after) throws VerificationException {
    EpochKey key = block.epochKey();
    if (current == null) {
      throw badKeystore("forward block of epoch " + key.toHex()
          + ": no epoch is usable at the record, so nothing can be forwarded (rotate instead)");
    }
    if (!key.equals(current)) {
      throw badKeystore("forward block of epoch " + key.toHex() + ", but the current epoch is " + current.toHex());
    }
    for (PublicKey member : block.members()) {
      if ((after.bitsOf(member) & Rights.READ) == 0) {
        throw badKeystore("forward block wraps epoch " + key.toHex() + " for " + member.toHex()
            + ", who is not a reader after the record");
      }
    }
  }

  /** The members holding read in {@code state}, ascending. */
  public static SortedSet<PublicKey> readersOf(MemberState state) {
    TreeSet<PublicKey> readers = new TreeSet<>();
    state.members().forEach((key, bits) -> {
      if ((bits & Rights.READ) != 0) {
        readers.add(key);
      }
    });
    return Collections.unmodifiableSortedSet(readers);
  }

  private static VerificationException badKeystore(String message) {
    return new VerificationException(Failure.BAD_KEYSTORE, message);
  }

  @Override
  public String toString() {
    return "Epochs[" + all.size() + " epochs, current=" + (current == null ? "none" : current.toHex()) + "]";
  }
}
