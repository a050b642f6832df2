package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * An immutable RFC 9162 tree that keeps the hash of every perfect subtree (level l holds the roots of
 * the aligned runs of 2^l leaves), so proofs cost O(log n) lookups; only subtrees on the ragged right
 * edge are recomputed, O(log n) of them. Memory: about two hashes per leaf. Thread-safe.
 */
public final class MerkleTree {
  private final long size;
  private final byte[][] levels;
  private final Hash root;

  private MerkleTree(byte[] leafHashes, int size) {
    this.size = size;
    int height = size <= 1 ? 1 : 64 - Long.numberOfLeadingZeros(size - 1) + 1;
    levels = new byte[height][];
    levels[0] = leafHashes;
    MessageDigest digest = Sha256.newDigest();
    byte node = Domain.MERKLE_NODE.tag();
    for (int l = 1; l < height; l++) {
      int count = size >>> l;
      byte[] below = levels[l - 1];
      byte[] level = new byte[count * Hash.LENGTH];
      for (int i = 0; i < count; i++) {
        Sha256.hashPair(digest, node, below, 2 * i * Hash.LENGTH, below, (2 * i + 1) * Hash.LENGTH, level, i * Hash.LENGTH);
      }
      levels[l] = level;
    }
    root = size == 0 ? Merkle.emptyRoot() : subtree(0, size);
  }

  /** The tree over leaves with this data. */
  public static MerkleTree ofLeaves(List<byte[]> leafData) {
    int n = leafData.size();
    byte[] hashes = new byte[n * Hash.LENGTH];
    MessageDigest digest = Sha256.newDigest();
    byte leaf = Domain.MERKLE_LEAF.tag();
    for (int i = 0; i < n; i++) {
      byte[] data = leafData.get(i);
      Sha256.hashTagged(digest, leaf, data, 0, data.length, hashes, i * Hash.LENGTH);
    }
    return new MerkleTree(hashes, n);
  }

  /** The tree over leaves with these RFC 9162 leaf hashes. */
  public static MerkleTree ofLeafHashes(List<Hash> leafHashes) {
    int n = leafHashes.size();
    byte[] hashes = new byte[n * Hash.LENGTH];
    for (int i = 0; i < n; i++) {
      leafHashes.get(i).copyTo(hashes, i * Hash.LENGTH);
    }
    return new MerkleTree(hashes, n);
  }

  public long size() {
    return size;
  }

  public Hash root() {
    return root;
  }

  /** The leaf hash at {@code index}. */
  public Hash leafHash(long index) {
    checkIndex(index, size);
    return Hash.copyOf(levels[0], (int) index * Hash.LENGTH, Hash.LENGTH);
  }

  /** The inclusion proof of leaf {@code index} (RFC 9162 2.1.3.1). */
  public InclusionProof inclusionProof(long index) {
    checkIndex(index, size);
    List<Hash> path = new ArrayList<>();
    long start = 0;
    long n = size;
    long m = index;
    while (n > 1) {
      long k = Merkle.split(n);
      if (m < k) {
        path.add(subtree(start + k, n - k));
        n = k;
      } else {
        path.add(subtree(start, k));
        start += k;
        m -= k;
        n -= k;
      }
    }
    Collections.reverse(path);
    return new InclusionProof(index, size, path);
  }

  /** The consistency proof from the first {@code oldSize} leaves to this tree (RFC 9162 2.1.4.1). */
  public ConsistencyProof consistencyProof(long oldSize) {
    if (oldSize < 1 || oldSize > size) {
      throw new IllegalArgumentException("old size must be 1 to " + size + ", got " + oldSize);
    }
    List<Hash> path = new ArrayList<>();
    long start = 0;
    long n = size;
    long m = oldSize;
    boolean complete = true;
    while (m != n) {
      long k = Merkle.split(n);
      if (m <= k) {
        path.add(subtree(start + k, n - k));
        n = k;
      } else {
        path.add(subtree(start, k));
        start += k;
        m -= k;
        n -= k;
        complete = false;
      }
    }
    if (!complete) {
      path.add(subtree(start, n));
    }
    Collections.reverse(path);
    return new ConsistencyProof(oldSize, size, path);
  }

  /** The root of leaves [start, start + n), n at least 1. */
  private Hash subtree(long start, long n) {
    if (Long.bitCount(n) == 1 && start % n == 0) {
      int level = Long.numberOfTrailingZeros(n);
      return Hash.copyOf(levels[level], (int) (start / n) * Hash.LENGTH, Hash.LENGTH);
    }
    long k = Merkle.split(n);
    return Merkle.nodeHash(subtree(start, k), subtree(start + k, n - k));
  }

  private static void checkIndex(long index, long size) {
    if (index < 0 || index >= size) {
      throw new IndexOutOfBoundsException("leaf " + index + " of a tree of " + size);
    }
  }
}
