package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Hash;
import java.util.Objects;

/**
 * What a proof of one leaf needs of its tree: the tree's root, the leaf's hash and the leaf's RFC 9162
 * inclusion proof (which names the leaf's index and the tree's size).
 */
public record LeafProof(Hash root, Hash leafHash, InclusionProof inclusion) {
  public LeafProof {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(leafHash, "leafHash");
    Objects.requireNonNull(inclusion, "inclusion");
  }

  /** The leaf's index in the tree. */
  public long index() {
    return inclusion.index();
  }

  /** The tree's number of leaves. */
  public long treeSize() {
    return inclusion.treeSize();
  }
}
