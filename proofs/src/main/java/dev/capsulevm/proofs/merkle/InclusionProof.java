package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Hash;
import java.util.List;
import java.util.Objects;

/**
 * An RFC 9162 inclusion proof (section 2.1.3): the sibling hashes on the way from the leaf at
 * {@code index} up to the root of a tree of {@code treeSize} leaves, the leaf's sibling first.
 *
 * <p>The record only checks that the numbers are not negative; whether the proof holds, including
 * whether {@code index < treeSize}, is {@link MerkleVerifier#verifyInclusion}'s job.
 */
public record InclusionProof(long index, long treeSize, List<Hash> path) {
  public InclusionProof {
    if (index < 0) {
      throw new IllegalArgumentException("index must not be negative, got " + index);
    }
    if (treeSize < 0) {
      throw new IllegalArgumentException("tree size must not be negative, got " + treeSize);
    }
    path = List.copyOf(Objects.requireNonNull(path, "path"));
  }
}
