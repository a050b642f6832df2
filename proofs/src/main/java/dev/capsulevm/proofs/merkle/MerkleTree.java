package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * An immutable RFC 9162 Merkle tree over leaf hashes that keeps every level of perfect subtrees, so
 * an inclusion or consistency proof costs O(log n) lookups plus at most O(log n) hashes for the one
 * ragged right-edge node a proof can need.
 *
 * <p>Level {@code k} holds the roots of the {@code floor(n / 2^k)} complete, aligned subtrees of
 * {@code 2^k} leaves; every node of the RFC 9162 tree that is not on the ragged right edge is one of
 * them. Thread-safe once built.
 */
public final class MerkleTree {
  private static final byte NODE = Domain.MERKLE_NODE.tag();

  /** {@code levels[k]} holds {@code size >> k} hashes of 32 bytes each, side by side. */
  private final byte[][] levels;
  private final long size;
  private final Hash root;

  private MerkleTree(byte[] leaves, int size) {
    this.size = size;
    this.levels = new byte[height(size)][];
    levels[0] = leaves;
    MessageDigest md = Sha256.newDigest();
    for (int k = 1; k < levels.length; k++) {
      int count = size >> k;
      byte[] below = levels[k - 1];
      byte[] level = new byte[count * Hash.LENGTH];
      for (int j = 0; j < count; j++) {
        Sha256.hashPair(
            md, NODE, below, 2 * j * Hash.LENGTH, below, (2 * j + 1) * Hash.LENGTH, level, j * Hash.LENGTH);
      }
      levels[k] = level;
    }
    this.root = size == 0 ? Merkle.emptyRoot() : subtree(0, size);
  }

  private MerkleTree(byte[][] levels, int size) {
    this.size = size;
    this.levels = levels;
    this.root = size == 0 ? Merkle.emptyRoot() : subtree(0, size);
  }

  private static int height(long size) {
    return size <= 1 ? 1 : 64 - Long.numberOfLeadingZeros(size);
  }

  /** The bytes {@link #encodedLevels()} gives for a tree of {@code size} leaves. */
  public static long encodedLevelsLength(long size) {
    long total = 0;
    for (int k = 0; k < height(size); k++) {
      total += (size >> k) * Hash.LENGTH;
    }
    return total;
  }

  /**
   * Every kept node, level by level: the leaf hashes, then the roots of aligned pairs, and so on (level
   * {@code k} holds {@code size >> k} hashes). What a store keeps so that a proof needs no rehashing of
   * the leaves; {@link #fromEncodedLevels} reads it back.
   */
  public byte[] encodedLevels() {
    byte[] out = new byte[Math.toIntExact(encodedLevelsLength(size))];
    int at = 0;
    for (byte[] level : levels) {
      System.arraycopy(level, 0, out, at, level.length);
      at += level.length;
    }
    return out;
  }

  /**
   * The tree of {@code size} leaves whose {@link #encodedLevels()} are {@code encoded}. Only the O(log n)
   * nodes of the ragged right edge are hashed (for the root); the levels are trusted as given, so this is
   * for a store reading back what it wrote, never for bytes from a peer.
   *
   * @throws IllegalArgumentException when the length does not fit {@code size}
   */
  public static MerkleTree fromEncodedLevels(long size, byte[] encoded) {
    Objects.requireNonNull(encoded, "encoded");
    if (size < 0 || size > Integer.MAX_VALUE || encoded.length != encodedLevelsLength(size)) {
      throw new IllegalArgumentException(encoded.length + " bytes are not the levels of a tree of " + size + " leaves");
    }
    byte[][] levels = new byte[height(size)][];
    int at = 0;
    for (int k = 0; k < levels.length; k++) {
      levels[k] = Arrays.copyOfRange(encoded, at, at + (int) (size >> k) * Hash.LENGTH);
      at += levels[k].length;
    }
    return new MerkleTree(levels, (int) size);
  }

  /** The tree whose leaves hold {@code leafData}, in order. */
  public static MerkleTree ofLeaves(List<byte[]> leafData) {
    Objects.requireNonNull(leafData, "leafData");
    int n = leafData.size();
    byte[] leaves = new byte[Math.multiplyExact(n, Hash.LENGTH)];
    MessageDigest md = Sha256.newDigest();
    int i = 0;
    for (byte[] data : leafData) {
      Objects.requireNonNull(data, "leaf data");
      Sha256.hashTagged(md, Domain.MERKLE_LEAF.tag(), data, 0, data.length, leaves, i * Hash.LENGTH);
      i++;
    }
    return new MerkleTree(leaves, n);
  }

  /** The tree with these leaf hashes (already {@code SHA-256(0x00 || data)}), in order. */
  public static MerkleTree ofLeafHashes(List<Hash> leafHashes) {
    Objects.requireNonNull(leafHashes, "leafHashes");
    int n = leafHashes.size();
    byte[] leaves = new byte[Math.multiplyExact(n, Hash.LENGTH)];
    int i = 0;
    for (Hash h : leafHashes) {
      Objects.requireNonNull(h, "leaf hash").copyTo(leaves, i * Hash.LENGTH);
      i++;
    }
    return new MerkleTree(leaves, n);
  }

  /** The number of leaves. */
  public long size() {
    return size;
  }

  /** The RFC 9162 root hash; {@link Merkle#emptyRoot()} for no leaves. */
  public Hash root() {
    return root;
  }

  /** The hash of leaf {@code index}, counting from 0. */
  public Hash leafHash(long index) {
    Objects.checkIndex(index, size);
    return Hash.copyOf(levels[0], (int) index * Hash.LENGTH, Hash.LENGTH);
  }

  /** The root, leaf {@code index}'s hash and its inclusion proof: what a proof of that leaf needs. */
  public LeafProof leafProof(long index) {
    return new LeafProof(root, leafHash(index), inclusionProof(index));
  }

  /** Copies kept node {@code position} of level {@code level} into {@code out} at {@code at}. */
  private void copyNode(int level, long position, byte[] out, int at) {
    System.arraycopy(levels[level], (int) position * Hash.LENGTH, out, at, Hash.LENGTH);
  }

  /**
   * The RFC 9162 (2.1.3.1) inclusion proof of leaf {@code index} in this tree.
   *
   * @throws IndexOutOfBoundsException unless {@code 0 <= index < size()}
   */
  public InclusionProof inclusionProof(long index) {
    return inclusionProof(this::copyNode, size, index);
  }

  /** {@link #inclusionProof(long)} over the kept nodes {@code nodes} of a tree of {@code size} leaves. */
  static InclusionProof inclusionProof(Nodes nodes, long size, long index) {
    Objects.checkIndex(index, size);
    List<Hash> path = new ArrayList<>(64);
    MessageDigest md = Merkle.threadDigest();
    // PATH(m, D[start:start+n]) walked top-down; siblings are collected top-down, then reversed.
    long start = 0;
    long n = size;
    long m = index;
    while (n > 1) {
      long k = Merkle.splitPoint(n);
      if (m < k) {
        path.add(subtreeHash(nodes, md, start + k, n - k));
        n = k;
      } else {
        path.add(subtreeHash(nodes, md, start, k));
        start += k;
        m -= k;
        n -= k;
      }
    }
    Collections.reverse(path);
    return new InclusionProof(index, size, path);
  }

  /**
   * The RFC 9162 (2.1.4.1) consistency proof that this tree extends its first {@code oldSize}
   * leaves. Empty when {@code oldSize == size()}.
   *
   * @throws IllegalArgumentException unless {@code 1 <= oldSize <= size()}
   */
  public ConsistencyProof consistencyProof(long oldSize) {
    if (oldSize < 1 || oldSize > size) {
      throw new IllegalArgumentException(
          "a consistency proof needs 1 <= old size <= " + size + ", got " + oldSize);
    }
    List<Hash> path = new ArrayList<>(64);
    MessageDigest md = Merkle.threadDigest();
    // SUBPROOF(m, D[start:start+n], b) walked top-down; each level appends after the deeper ones,
    // so the hashes are collected top-down and reversed at the end.
    long start = 0;
    long n = size;
    long m = oldSize;
    boolean whole = true;
    while (m != n) {
      long k = Merkle.splitPoint(n);
      if (m <= k) {
        path.add(subtreeHash(md, start + k, n - k));
        n = k;
      } else {
        path.add(subtreeHash(md, start, k));
        start += k;
        m -= k;
        n -= k;
        whole = false;
      }
    }
    if (!whole) {
      path.add(subtreeHash(md, start, n));
    }
    Collections.reverse(path);
    return new ConsistencyProof(oldSize, size, path);
  }

  private Hash subtree(long start, long n) {
    return subtreeHash(this::copyNode, Merkle.threadDigest(), start, n);
  }

  private Hash subtreeHash(MessageDigest md, long start, long n) {
    return subtreeHash(this::copyNode, md, start, n);
  }

  /** MTH(D[start:start+n]) for a subtree of the RFC 9162 decomposition, {@code n >= 1}. */
  static Hash subtreeHash(Nodes nodes, MessageDigest md, long start, long n) {
    byte[] out = new byte[Hash.LENGTH];
    subtreeInto(nodes, md, start, n, out);
    return Hash.copyOf(out);
  }

  private static void subtreeInto(Nodes nodes, MessageDigest md, long start, long n, byte[] out) {
    if (Long.bitCount(n) == 1 && start % n == 0) {
      int k = Long.numberOfTrailingZeros(n);
      nodes.copy(k, start >> k, out, 0);
      return;
    }
    // A ragged right-edge node: its left part is a perfect subtree, its right part recurses.
    long k = Merkle.splitPoint(n);
    byte[] pair = new byte[2 * Hash.LENGTH];
    subtreeInto(nodes, md, start + k, n - k, out);
    System.arraycopy(out, 0, pair, Hash.LENGTH, Hash.LENGTH);
    int level = Long.numberOfTrailingZeros(k);
    nodes.copy(level, start >> level, pair, 0);
    Sha256.hashPair(md, NODE, pair, 0, pair, Hash.LENGTH, out, 0);
  }

  /** Where the kept nodes of a tree are read from: a built tree's levels, or a store's encoded levels. */
  @FunctionalInterface
  interface Nodes {
    /** Copies the 32-byte node {@code position} of level {@code level} into {@code out} at {@code at}. */
    void copy(int level, long position, byte[] out, int at);
  }
}
