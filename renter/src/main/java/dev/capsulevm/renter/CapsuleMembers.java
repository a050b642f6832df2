package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Resolution;
import dev.capsulevm.proofs.members.RetentionPolicy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import org.jspecify.annotations.Nullable;

/**
 * The members of a version-2 capsule as of a set of verified heads: the state a record following all of
 * them would be written in, resolved (docs/FORMAT.md, "Members") over the signed membership records at or
 * below them, each verified; and who changed what, from the {@link Resolution}.
 */
public final class CapsuleMembers {
  private final Hash capsuleId;
  private final List<Hash> heads;
  private final Resolution resolution;
  private final Map<Hash, Op> ops;

  CapsuleMembers(Hash capsuleId, List<Hash> heads, Resolution resolution, Collection<Op> closure) {
    this.capsuleId = capsuleId;
    this.heads = List.copyOf(heads);
    this.resolution = resolution;
    Map<Hash, Op> byHash = new HashMap<>();
    closure.forEach(op -> byHash.put(op.hash(), op));
    this.ops = Map.copyOf(byHash);
  }

  public Hash capsuleId() {
    return capsuleId;
  }

  /** The heads this state is as of, ascending. */
  public List<Hash> heads() {
    return heads;
  }

  /** The resolved member state. */
  public MemberState state() {
    return resolution.state();
  }

  /** Every member and its non-zero bits, ascending by key. */
  public SortedMap<PublicKey, Integer> members() {
    return resolution.state().members();
  }

  /** {@code key}'s bits, 0 when it is not a member. */
  public int bitsOf(PublicKey key) {
    return resolution.state().bitsOf(key);
  }

  public RetentionPolicy retention() {
    return resolution.state().retention();
  }

  /** The whole resolution: effective and void membership records, and who took bits away. */
  public Resolution resolution() {
    return resolution;
  }

  /** The membership records that took effect, in resolution order (height, then hash). */
  public List<Op> changes() {
    List<Op> out = new ArrayList<>();
    resolution.effective().forEach(h -> out.add(Objects.requireNonNull(ops.get(h))));
    return out;
  }

  /**
   * The effective membership record that last set {@code key}'s bits, or null when they are the genesis
   * bits (the creator, and writers the metadata lists) or the key was never named.
   */
  public @Nullable Op grantOrNull(PublicKey key) {
    Objects.requireNonNull(key, "key");
    Op last = null;
    for (Op op : changes()) {
      if (op.change() instanceof MemberChange.SetMember set && set.member().equals(key)) {
        last = op;
      }
    }
    return last;
  }

  /** The effective membership record that last took bits away from {@code key}, or null. */
  public @Nullable Op removalOrNull(PublicKey key) {
    Hash removal = resolution.removedByOrNull(key);
    return removal == null ? null : ops.get(removal);
  }

  @Override
  public String toString() {
    return "CapsuleMembers[" + capsuleId + ", " + resolution.state() + "]";
  }
}
