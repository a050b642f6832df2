package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.util.List;

/** RFC 9162 (section 2.1) Merkle tree hashing: leaf {@code H(0x00 || d)}, node {@code H(0x01 || l || r)}. */
public final class Merkle {
  private static final Hash EMPTY = Sha256.untagged(new byte[0]);

  private Merkle() {}

  /** The leaf hash of {@code data}. */
  public static Hash leafHash(byte[] data) {
    return Sha256.hash(Domain.MERKLE_LEAF, data);
  }

  /** The interior node hash of two children. */
  public static Hash nodeHash(Hash left, Hash right) {
    byte[] both = new byte[2 * Hash.LENGTH];
    left.copyTo(both, 0);
    right.copyTo(both, Hash.LENGTH);
    return Sha256.hash(Domain.MERKLE_NODE, both);
  }

  /** The root of the empty tree: {@code SHA-256("")}, untagged as RFC 9162 defines it. */
  public static Hash emptyRoot() {
    return EMPTY;
  }

  /** The root of the tree whose leaves are {@code leafData}, in order. */
  public static Hash root(List<byte[]> leafData) {
    MerkleRootBuilder builder = new MerkleRootBuilder();
    for (byte[] leaf : leafData) {
      builder.add(leaf);
    }
    return builder.root();
  }

  /** The root of the tree whose leaf hashes are {@code leafHashes}, in order. */
  public static Hash rootOfLeafHashes(List<Hash> leafHashes) {
    MerkleRootBuilder builder = new MerkleRootBuilder();
    for (Hash leaf : leafHashes) {
      builder.addLeafHash(leaf);
    }
    return builder.root();
  }

  /** The largest power of two strictly below {@code n} (n at least 2): where RFC 9162 splits. */
  static long split(long n) {
    return Long.highestOneBit(n - 1);
  }
}
