package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.security.MessageDigest;
import java.util.List;
import java.util.Objects;

/**
 * RFC 9162 section 2.1 Merkle tree hashes: a leaf is {@code SHA-256(0x00 || data)}, an interior node
 * {@code SHA-256(0x01 || left || right)}, a tree of n > 1 leaves splits at the largest power of two
 * strictly below n, and the empty tree's hash is {@code SHA-256("")}.
 */
public final class Merkle {
  private static final Hash EMPTY_ROOT = Sha256.untagged(new byte[0]);

  /** One digest per thread for proofs and their verification. */
  private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(Sha256::newDigest);

  private Merkle() {}

  /** This thread's SHA-256 digest; callers must leave it reset (finish every digest they start). */
  static MessageDigest threadDigest() {
    return DIGEST.get();
  }

  /** The RFC 9162 leaf hash {@code SHA-256(0x00 || data)}. */
  public static Hash leafHash(byte[] data) {
    Objects.requireNonNull(data, "data");
    return Sha256.hash(Domain.MERKLE_LEAF, data);
  }

  /** The RFC 9162 interior node hash {@code SHA-256(0x01 || left || right)}. */
  public static Hash nodeHash(Hash left, Hash right) {
    byte[] both = new byte[2 * Hash.LENGTH];
    left.copyTo(both, 0);
    right.copyTo(both, Hash.LENGTH);
    return Sha256.hash(Domain.MERKLE_NODE, both);
  }

  /** The root of the empty tree, {@code SHA-256("")}. */
  public static Hash emptyRoot() {
    return EMPTY_ROOT;
  }

  /** The root of the tree whose leaves hold {@code leafData}, in order. */
  public static Hash root(List<byte[]> leafData) {
    Objects.requireNonNull(leafData, "leafData");
    MerkleRootBuilder builder = new MerkleRootBuilder();
    for (byte[] data : leafData) {
      builder.add(data);
    }
    return builder.root();
  }

  /** The root of the tree whose leaf hashes (already {@code SHA-256(0x00 || data)}) are given. */
  public static Hash rootOfLeafHashes(List<Hash> leafHashes) {
    Objects.requireNonNull(leafHashes, "leafHashes");
    MerkleRootBuilder builder = new MerkleRootBuilder();
    for (Hash leaf : leafHashes) {
      builder.addLeafHash(leaf);
    }
    return builder.root();
  }

  /** The largest power of two strictly below {@code n}, for {@code n >= 2}. */
  static long splitPoint(long n) {
    return Long.highestOneBit(n - 1);
  }
}
