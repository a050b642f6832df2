package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Resolves a set of membership records into one member state (docs/FORMAT.md, "Members", "Resolution").
 * The result is a function of the set and the auth-parent links alone: the same in any input order, on
 * any machine. It never throws on any input: records that lack the right are void, not errors.
 *
 * <p>In short: the records are applied in (height, hash) order from genesis; a record whose author lacks
 * the right in the running state is void; of concurrent changes to one member the lower bits win; and
 * when a change lowers a member, that member's effective concurrent changes that needed the lost right
 * are voided and the pass restarts from genesis. Voiding is never undone, so the passes end.
 *
 * <p>Auth parents that are not in the given set are treated as absent: they order nothing and make no
 * record concurrent or not. Callers pass a closed set ({@link Changelog#closure}); an open one resolves
 * as if the missing records had never been written. Two inputs with one hash but different contents
 * (which no real record can produce) are reduced to one, chosen by content, so the result still does
 * not depend on input order.
 *
 * <p>Cost: a pass is O(n * k) for n records and k records per target or author; each restart voids at
 * least one record, so at most n + 1 passes.
 */
public final class Resolver {
  /** Picks one of two inputs that claim the same hash, by content alone. */
  private static final Comparator<Op> SAME_HASH_TIEBREAK =
      Comparator.comparingLong(Op::height)
          .thenComparing(Op::author)
          .thenComparing(op -> op.change().encode(), Arrays::compareUnsigned)
          .thenComparing(Op::authParents, Resolver::compareLists)
          .thenComparing(Resolver::keystoreBytes, Arrays::compareUnsigned);

  private Resolver() {}

  /**
   * The state after applying {@code ops} to {@code genesis} in a capsule created by {@code creator}.
   * With no ops the state is {@code genesis}.
   */
  public static Resolution resolve(MemberState genesis, PublicKey creator, Collection<Op> ops) {
    Objects.requireNonNull(genesis, "genesis");
    Objects.requireNonNull(creator, "creator");
    Objects.requireNonNull(ops, "ops");
    List<Op> order = new ArrayList<>(byHash(ops).values());
    order.sort(Op.ORDER);
    return new Run(genesis, creator, order).resolve();
  }

  /**
   * {@code ops} by hash; of inputs that claim one hash (which no real record can produce), the one chosen
   * by content alone, so that nothing depends on the input order.
   */
  static SortedMap<Hash, Op> byHash(Collection<Op> ops) {
    TreeMap<Hash, Op> byHash = new TreeMap<>();
    for (Op op : ops) {
      Objects.requireNonNull(op, "op");
      byHash.merge(op.hash(), op, (a, b) -> SAME_HASH_TIEBREAK.compare(a, b) <= 0 ? a : b);
    }
    return byHash;
  }

  private static byte[] keystoreBytes(Op op) {
    Keystore keystore = op.keystoreOrNull();
    return keystore == null ? new byte[0] : keystore.encode();
  }

  private static int compareLists(List<Hash> a, List<Hash> b) {
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      int c = a.get(i).compareTo(b.get(i));
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(a.size(), b.size());
  }

  /** One resolution: the ordered records, their ancestry, and the void set that grows across passes. */
  private static final class Run {
    private final MemberState genesis;
    private final PublicKey creator;
    private final List<Op> order;
    /** {@code below[i].get(j)}: record j is reachable from record i through auth parents. */
    private final BitSet[] below;
    private final BitSet voided = new BitSet();

    Run(MemberState genesis, PublicKey creator, List<Op> order) {
      this.genesis = genesis;
      this.creator = creator;
      this.order = order;
      this.below = ancestry(order);
    }

    /**
     * Transitive auth-parent reachability within the set. Real records name only lower heights, so the
     * first sweep in order settles it and the second confirms; arbitrary input (cycles, parents at equal
     * or greater heights) takes more sweeps, each only adding bits, so it ends.
     */
    private static BitSet[] ancestry(List<Op> order) {
      int n = order.size();
      Map<Hash, Integer> index = new HashMap<>();
      for (int i = 0; i < n; i++) {
        index.put(order.get(i).hash(), i);
      }
      int[][] parents = new int[n][];
      BitSet[] below = new BitSet[n];
      for (int i = 0; i < n; i++) {
        parents[i] =
            order.get(i).authParents().stream().map(index::get).filter(Objects::nonNull).mapToInt(Integer::intValue).toArray();
        below[i] = new BitSet(n);
      }
      boolean changed = true;
      while (changed) {
        changed = false;
        for (int i = 0; i < n; i++) {
          BitSet mine = below[i];
          int before = mine.cardinality();
          for (int p : parents[i]) {
            mine.set(p);
            if (p != i) {
              mine.or(below[p]);
            }
          }
          changed |= mine.cardinality() != before;
        }
      }
      return below;
    }

    private boolean concurrent(int a, int b) {
      return a != b && !below[a].get(b) && !below[b].get(a);
    }

    Resolution resolve() {
      while (true) {
        Resolution done = pass();
        if (done != null) {
          return done;
        }
      }
    }

    /** One pass from genesis; null when it voided victims and the run must restart. */
    private @Nullable Resolution pass() {
      MemberState state = genesis;
      List<Integer> effective = new ArrayList<>();
      Rights.Need[] needed = new Rights.Need[order.size()];
      Map<PublicKey, List<Integer>> setsByTarget = new HashMap<>();
      Map<PublicKey, List<Integer>> byAuthor = new HashMap<>();
      Map<PublicKey, Hash> removedBy = new HashMap<>();
      for (int i = 0; i < order.size(); i++) {
        if (voided.get(i)) {
          continue;
        }
        Op op = order.get(i);
        PublicKey author = op.author();
        Rights.Need need = Rights.need(state, creator, author, op.change());
        if (!Rights.meets(need, state.bitsOf(author), author, creator)) {
          voided.set(i);
          continue;
        }
        needed[i] = need;
        effective.add(i);
        byAuthor.computeIfAbsent(author, k -> new ArrayList<>()).add(i);
        if (op.change() instanceof MemberChange.SetRetention retention) {
          state = state.withRetention(retention.policy());
          continue;
        }
        if (op.change() instanceof MemberChange.Rekey) {
          continue; // changes no member; its epoch is Epochs' business
        }
        MemberChange.SetMember set = (MemberChange.SetMember) op.change();
        PublicKey target = set.member();
        List<Integer> onTarget = setsByTarget.computeIfAbsent(target, k -> new ArrayList<>());
        int applied = set.bits();
        for (int other : onTarget) {
          if (concurrent(i, other)) {
            applied &= ((MemberChange.SetMember) order.get(other).change()).bits();
          }
        }
        onTarget.add(i);
        int old = state.bitsOf(target);
        state = state.withMember(target, applied);
        if ((old & ~applied) == 0) {
          continue;
        }
        removedBy.put(target, op.hash());
        boolean restart = false;
        for (int other : byAuthor.getOrDefault(target, List.of())) {
          if (other != i
              && concurrent(i, other)
              && !Rights.meets(needed[other], applied, target, creator)) {
            voided.set(other);
            restart = true;
          }
        }
        if (restart) {
          return null;
        }
      }
      List<Hash> effectiveHashes = new ArrayList<>(effective.size());
      for (int i : effective) {
        effectiveHashes.add(order.get(i).hash());
      }
      TreeSet<Hash> voidHashes = new TreeSet<>();
      voided.stream().forEach(i -> voidHashes.add(order.get(i).hash()));
      return new Resolution(state, effectiveHashes, voidHashes, removedBy);
    }
  }
}
