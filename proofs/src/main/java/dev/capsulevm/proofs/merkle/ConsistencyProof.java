package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Hash;
import java.util.List;

/** An RFC 9162 consistency proof that a tree of {@code oldSize} leaves is a prefix of one of {@code newSize}. */
public record ConsistencyProof(long oldSize, long newSize, List<Hash> path) {
  public ConsistencyProof {
    if (oldSize < 0 || newSize < 0) {
      throw new IllegalArgumentException("sizes must not be negative: " + oldSize + ", " + newSize);
    }
    path = List.copyOf(path);
  }
}
