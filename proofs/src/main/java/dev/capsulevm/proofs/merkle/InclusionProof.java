package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Hash;
import java.util.List;

/** An RFC 9162 inclusion proof: the audit path of leaf {@code index} in a tree of {@code treeSize} leaves, leaf-sibling first. */
public record InclusionProof(long index, long treeSize, List<Hash> path) {
  public InclusionProof {
    if (index < 0 || treeSize < 0) {
      throw new IllegalArgumentException("index and tree size must not be negative: " + index + ", " + treeSize);
    }
    path = List.copyOf(path);
  }
}
