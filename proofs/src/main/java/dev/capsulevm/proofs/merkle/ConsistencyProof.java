package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Hash;
import java.util.List;
import java.util.Objects;

/**
 * An RFC 9162 consistency proof (section 2.1.4): the hashes that show a tree of {@code newSize}
 * leaves extends a tree of {@code oldSize} leaves, in the order SUBPROOF produces them.
 *
 * <p>The record only checks that the sizes are not negative; whether the proof holds is {@link
 * MerkleVerifier#verifyConsistency}'s job.
 */
public record ConsistencyProof(long oldSize, long newSize, List<Hash> path) {
  public ConsistencyProof {
    if (oldSize < 0) {
      throw new IllegalArgumentException("old size must not be negative, got " + oldSize);
    }
    if (newSize < 0) {
      throw new IllegalArgumentException("new size must not be negative, got " + newSize);
    }
    path = List.copyOf(Objects.requireNonNull(path, "path"));
  }
}
