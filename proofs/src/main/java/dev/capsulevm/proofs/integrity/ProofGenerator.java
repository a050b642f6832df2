package dev.capsulevm.proofs.integrity;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.SkipPointers;
import dev.capsulevm.proofs.members.MemberEntryProof;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.merkle.LeafProof;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Builds record and sub-record proofs from a {@link RecordSource}. A record on the anchor's primary
 * chain is reached greedily through skip pointers in O(log(distance)) headers; a record on a merged
 * branch is reached by a breadth-first search over all pointers, which finds a shortest path. The proof
 * of a version-2 record carries its writer's entry in the state before it, from {@link MemberStates}.
 */
public final class ProofGenerator {
  private final RecordSource source;
  private final MemberStates memberStates;

  /** A generator for version-1 capsules: its proofs carry no member entry. */
  public ProofGenerator(RecordSource source) {
    this(source, MemberStates.NONE);
  }

  /** A generator whose proofs of version-2 records carry the writer's entry from {@code memberStates}. */
  public ProofGenerator(RecordSource source, MemberStates memberStates) {
    this.source = Objects.requireNonNull(source, "source");
    this.memberStates = Objects.requireNonNull(memberStates, "memberStates");
  }

  /**
   * The proof of record {@code target} from {@code anchor}.
   *
   * @throws NoSuchElementException when either record is unknown or {@code target} is not an ancestor
   *     of {@code anchor} (or the anchor itself)
   * @throws IllegalStateException when the target is a version-2 record whose writer's entry the
   *     generator's {@link MemberStates} cannot give
   */
  public RecordProof recordProof(Hash anchor, Hash target) {
    RecordHeader top = require(anchor);
    RecordHeader goal = require(target);
    List<RecordHeader> path = greedyPath(top, goal.height());
    return withEntry(path != null && endsAt(path, goal) ? path : searchPath(top, goal));
  }

  /** The proof of {@code path}, with the writer's member entry when the target is version 2. */
  private RecordProof withEntry(List<RecordHeader> path) {
    RecordHeader target = path.get(path.size() - 1);
    if (target.version() == RecordHeader.VERSION) {
      return new RecordProof(path);
    }
    MemberState before = memberStates.stateBeforeOrNull(target.hash());
    if (before == null) {
      throw new IllegalStateException(
          "no member state before version-2 record " + target.hash() + " to prove its writer's entry");
    }
    MemberEntryProof entry = before.entryProofOrNull(target.writer());
    if (entry == null) {
      throw new IllegalStateException(
          "writer " + target.writer() + " of " + target.hash() + " is not a member in the state before it");
    }
    return new RecordProof(path, entry);
  }

  /**
   * The proof {@link #recordProof} gives when {@code target} lies on {@code anchor}'s primary chain (the
   * chain of first parents, where skip pointers lead): O(log distance) lookups. Null when either record
   * is unknown or the target is off that chain (a proof across a merge, which {@link #recordProof} finds
   * by search).
   *
   * @throws IllegalStateException as {@link #recordProof} does for a version-2 target
   */
  public @Nullable RecordProof primaryChainProofOrNull(Hash anchor, Hash target) {
    RecordHeader top = source.headerOrNull(anchor);
    RecordHeader goal = source.headerOrNull(target);
    if (top == null || goal == null) {
      return null;
    }
    List<RecordHeader> path = greedyPath(top, goal.height());
    return path != null && endsAt(path, goal) ? withEntry(path) : null;
  }

  /**
   * The path {@link #primaryChainProofOrNull} walks from {@code anchor} down to the record at
   * {@code height} on its primary chain, or null when a header on the way is unknown (or the height is
   * out of range). Lets a caller that holds only some headers size a proof before asking for it. A
   * version-2 target's writer entry is included when {@link MemberStates} knows the state before it,
   * and left out otherwise (the proof then does not verify, and is an entry short of its size).
   */
  public @Nullable RecordProof primaryChainProofToHeightOrNull(Hash anchor, long height) {
    RecordHeader top = source.headerOrNull(anchor);
    if (top == null || height < 1 || height > top.height()) {
      return null;
    }
    List<RecordHeader> path = greedyPath(top, height);
    if (path == null) {
      return null;
    }
    RecordHeader target = path.get(path.size() - 1);
    MemberState before = target.version() == RecordHeader.VERSION ? null : memberStates.stateBeforeOrNull(target.hash());
    return new RecordProof(path, before == null ? null : before.entryProofOrNull(target.writer()));
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
    return subRecordProof(anchor, target, tree.leafProof(index));
  }

  /**
   * The proof of the sub-record {@code leaf} proves of record {@code target} from {@code anchor}.
   *
   * @param leaf the sub-record's leaf in the Merkle tree over the target record's sub-records
   */
  public SubRecordProof subRecordProof(Hash anchor, Hash target, LeafProof leaf) {
    RecordProof recordProof = recordProof(anchor, target);
    if (!leaf.root().equals(recordProof.target().subRecordRoot())) {
      throw new IllegalArgumentException("the tree's root is not the sub-record root of " + target);
    }
    return new SubRecordProof(recordProof, leaf.inclusion());
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
