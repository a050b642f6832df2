package dev.capsulevm.proofs.integrity;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.SkipPointers;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.jspecify.annotations.Nullable;

/**
 * Builds record and sub-record proofs from a {@link RecordSource}. A record on the anchor's primary
 * chain is reached greedily through skip pointers in O(log(distance)) headers; a record on a merged
 * branch is reached by a breadth-first search over all pointers, which finds a shortest path.
 */
public final class ProofGenerator {
  private final RecordSource source;

  public ProofGenerator(RecordSource source) {
    this.source = source;
  }

  /**
   * The proof of record {@code target} from {@code anchor}.
   *
   * @throws NoSuchElementException when either record is unknown or {@code target} is not an ancestor
   *     of {@code anchor} (or the anchor itself)
   */
  public RecordProof recordProof(Hash anchor, Hash target) {
    RecordHeader top = require(anchor);
    RecordHeader goal = require(target);
    List<RecordHeader> path = greedyPath(top, goal.height());
    return new RecordProof(path != null && endsAt(path, goal) ? path : searchPath(top, goal));
  }

  /**
   * The proof {@link #recordProof} gives when {@code target} lies on {@code anchor}'s primary chain (the
   * chain of first parents, where skip pointers lead): O(log distance) lookups. Null when either record
   * is unknown or the target is off that chain (a proof across a merge, which {@link #recordProof} finds
   * by search).
   */
  public @Nullable RecordProof primaryChainProofOrNull(Hash anchor, Hash target) {
    RecordHeader top = source.headerOrNull(anchor);
    RecordHeader goal = source.headerOrNull(target);
    if (top == null || goal == null) {
      return null;
    }
    List<RecordHeader> path = greedyPath(top, goal.height());
    return path != null && endsAt(path, goal) ? new RecordProof(path) : null;
  }

  /**
   * The path {@link #primaryChainProofOrNull} walks from {@code anchor} down to the record at
   * {@code height} on its primary chain, or null when a header on the way is unknown (or the height is
   * out of range). Lets a caller that holds only some headers size a proof before asking for it.
   */
  public @Nullable RecordProof primaryChainProofToHeightOrNull(Hash anchor, long height) {
    RecordHeader top = source.headerOrNull(anchor);
    if (top == null || height < 1 || height > top.height()) {
      return null;
    }
    List<RecordHeader> path = greedyPath(top, height);
    return path == null ? null : new RecordProof(path);
  }

  private static boolean endsAt(List<RecordHeader> path, RecordHeader goal) {
    return path.get(path.size() - 1).hash().equals(goal.hash());
  }

  /**
   * The proof of sub-record {@code index} of record {@code target} from {@code anchor}.
   *
   * @param tree the Merkle tree over the target record's sub-records
   */
  public SubRecordProof subRecordProof(Hash anchor, Hash target, long index, MerkleTree tree) {
    RecordProof recordProof = recordProof(anchor, target);
    if (!tree.root().equals(recordProof.target().subRecordRoot())) {
      throw new IllegalArgumentException("the tree's root is not the sub-record root of " + target);
    }
    return new SubRecordProof(recordProof, tree.inclusionProof(index));
  }

  private RecordHeader require(Hash hash) {
    RecordHeader header = source.headerOrNull(hash);
    if (header == null) {
      throw new NoSuchElementException("no record " + hash);
    }
    return header;
  }

  /** Jumps down the primary chain to {@code goalHeight}; null when a header on the way is unknown. */
  private @Nullable List<RecordHeader> greedyPath(RecordHeader top, long goalHeight) {
    List<RecordHeader> path = new ArrayList<>();
    RecordHeader current = top;
    path.add(current);
    while (current.height() > goalHeight) {
      Hash next = current.primaryParent();
      for (int j = current.skipPointers().size() - 1; j >= 0; j--) {
        if (SkipPointers.targetHeight(current.height(), j) >= goalHeight) {
          next = current.skipPointers().get(j);
          break;
        }
      }
      current = source.headerOrNull(next);
      if (current == null) {
        return null;
      }
      path.add(current);
    }
    return path;
  }

  private List<RecordHeader> searchPath(RecordHeader top, RecordHeader goal) {
    Map<Hash, RecordHeader> cameFrom = new HashMap<>();
    Map<Hash, RecordHeader> seen = new HashMap<>();
    ArrayDeque<RecordHeader> queue = new ArrayDeque<>();
    queue.add(top);
    seen.put(top.hash(), top);
    while (!queue.isEmpty()) {
      RecordHeader current = queue.poll();
      if (current.hash().equals(goal.hash())) {
        List<RecordHeader> path = new ArrayList<>();
        for (RecordHeader at = current; at != null; at = cameFrom.get(at.hash())) {
          path.add(at);
        }
        Collections.reverse(path);
        return path;
      }
      List<Hash> pointers = new ArrayList<>(current.parents());
      pointers.addAll(current.skipPointers());
      for (Hash pointer : pointers) {
        if (seen.containsKey(pointer)) {
          continue;
        }
        RecordHeader next = source.headerOrNull(pointer);
        if (next == null || next.height() < goal.height()) {
          continue;
        }
        seen.put(pointer, next);
        cameFrom.put(pointer, current);
        queue.add(next);
      }
    }
    throw new NoSuchElementException(goal.hash() + " is not an ancestor of " + top.hash());
  }
}
