package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * What {@link Resolver#resolve} made of a set of membership records: the resulting state, which records
 * took effect (in resolution order) and which are void, and for each key the effective record that last
 * took bits away from it.
 */
public final class Resolution {
  private final MemberState state;
  private final List<Hash> effective;
  private final Set<Hash> effectiveSet;
  private final SortedSet<Hash> voided;
  private final Map<PublicKey, Hash> removedBy;

  Resolution(MemberState state, List<Hash> effective, SortedSet<Hash> voided, Map<PublicKey, Hash> removedBy) {
    this.state = state;
    this.effective = List.copyOf(effective);
    this.effectiveSet = Set.copyOf(effective);
    this.voided = Collections.unmodifiableSortedSet(new TreeSet<>(voided));
    this.removedBy = Map.copyOf(removedBy);
  }

  /** The resolved member state. */
  public MemberState state() {
    return state;
  }

  /** The records that took effect, in resolution order (height, then hash). */
  public List<Hash> effective() {
    return effective;
  }

  /** The records that are void (no effect), ascending by hash. */
  public SortedSet<Hash> voided() {
    return voided;
  }

  /** Whether the record with this hash took effect. */
  public boolean isEffective(Hash op) {
    return effectiveSet.contains(Objects.requireNonNull(op, "op"));
  }

  /**
   * The effective record that last lowered {@code key}'s bits (removed it or took a bit away), or null
   * when no effective record did: what a refusal names as having taken a right away.
   */
  public @Nullable Hash removedByOrNull(PublicKey key) {
    return removedBy.get(Objects.requireNonNull(key, "key"));
  }

  @Override
  public String toString() {
    return "Resolution[" + state + ", effective=" + effective.size() + ", void=" + voided.size() + "]";
  }
}
