package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Hash;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/** The membership records of one capsule that a host or reader holds, by record hash. */
@FunctionalInterface
public interface Changelog {
  /** The membership record with this hash, or null when it is unknown or not a membership record. */
  @Nullable Op opOrNull(Hash recordHash);

  /** A changelog holding exactly {@code ops} (the last of equal hashes wins). */
  static Changelog of(Collection<Op> ops) {
    Map<Hash, Op> byHash = new HashMap<>();
    for (Op op : ops) {
      byHash.put(op.hash(), op);
    }
    Map<Hash, Op> frozen = Map.copyOf(byHash);
    return frozen::get;
  }

  /**
   * Every membership record reachable from {@code frontier} through auth parents, the frontier
   * included, in {@link Op#ORDER}: what {@link Resolver#resolve} takes to compute the state before a
   * record whose auth parents are {@code frontier}. Hashes the changelog does not know are skipped (so
   * a changelog missing records gives the state over the records it has).
   */
  static List<Op> closure(Changelog changelog, Collection<Hash> frontier) {
    Objects.requireNonNull(changelog, "changelog");
    Objects.requireNonNull(frontier, "frontier");
    Set<Hash> seen = new HashSet<>(frontier);
    ArrayDeque<Hash> pending = new ArrayDeque<>(seen);
    List<Op> ops = new ArrayList<>();
    while (!pending.isEmpty()) {
      Op op = changelog.opOrNull(pending.pop());
      if (op == null) {
        continue;
      }
      ops.add(op);
      for (Hash parent : op.authParents()) {
        if (seen.add(parent)) {
          pending.push(parent);
        }
      }
    }
    ops.sort(Op.ORDER);
    return ops;
  }
}
