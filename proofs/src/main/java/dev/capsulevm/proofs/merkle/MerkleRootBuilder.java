package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.security.DigestException;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * Computes an RFC 9162 Merkle root incrementally, in O(log n) memory: a stack of the roots of the
 * perfect subtrees the leaves so far decompose into (one per set bit of the count, largest first),
 * kept side by side in one preallocated array.
 *
 * <p>Adding a leaf allocates nothing: one reused digest hashes the leaf straight into the next stack
 * slot, and equal sized neighbours (adjacent in the array) are merged in place, each digest fed as
 * one tag-prefixed input from a reused scratch array.
 *
 * <p>Not thread-safe.
 */
public final class MerkleRootBuilder {
  /** One slot per possible set bit of the leaf count, plus the leaf about to be merged. */
  private static final int MAX_DEPTH = 64;

  /** Leaves up to this long are copied behind their tag; longer ones are fed in two updates. */
  private static final int SCRATCH_DATA = 128;

  private static final byte LEAF = Domain.MERKLE_LEAF.tag();
  private static final byte NODE = Domain.MERKLE_NODE.tag();

  private final MessageDigest md = Sha256.newDigest();
  private final byte[] stack = new byte[MAX_DEPTH * Hash.LENGTH];
  private final byte[] acc = new byte[Hash.LENGTH];

  /**
   * The tag byte followed by a short input, so that each digest is fed in one update: the JDK then
   * compresses the first block straight from this array instead of buffering a lone tag byte.
   */
  private final byte[] scratch = new byte[1 + SCRATCH_DATA];
  private long size;
  private int depth;

  /** An empty builder. */
  public MerkleRootBuilder() {}

  /** Adds a leaf holding {@code leafData}. */
  public MerkleRootBuilder add(byte[] leafData) {
    return add(leafData, 0, leafData.length);
  }

  /** Adds a leaf holding {@code len} bytes of {@code data} from {@code off}. */
  public MerkleRootBuilder add(byte[] data, int off, int len) {
    Objects.checkFromIndexSize(off, len, data.length);
    checkRoom();
    if (len <= SCRATCH_DATA) {
      scratch[0] = LEAF;
      System.arraycopy(data, off, scratch, 1, len);
      md.update(scratch, 0, 1 + len);
    } else {
      md.update(LEAF);
      md.update(data, off, len);
    }
    finish(depth * Hash.LENGTH);
    push();
    return this;
  }

  /** Adds a leaf whose RFC 9162 leaf hash is already known. */
  public MerkleRootBuilder addLeafHash(Hash leafHash) {
    Objects.requireNonNull(leafHash, "leafHash");
    checkRoom();
    leafHash.copyTo(stack, depth * Hash.LENGTH);
    push();
    return this;
  }

  /** The number of leaves added. */
  public long size() {
    return size;
  }

  /** Forgets every leaf, keeping the buffers, so the builder can compute another root. */
  public void reset() {
    size = 0;
    depth = 0;
  }

  /**
   * The root of the leaves added so far. Does not change the builder: more leaves may follow.
   * The root of no leaves is {@link Merkle#emptyRoot()}.
   */
  public Hash root() {
    if (depth == 0) {
      return Merkle.emptyRoot();
    }
    int top = depth - 1;
    if (top == 0) {
      return Hash.copyOf(stack, 0, Hash.LENGTH);
    }
    // The ragged right edge: fold the smaller subtrees into the larger ones, right to left.
    Sha256.hashPair(md, NODE, stack, (top - 1) * Hash.LENGTH, stack, top * Hash.LENGTH, acc, 0);
    for (int i = top - 2; i >= 0; i--) {
      Sha256.hashPair(md, NODE, stack, i * Hash.LENGTH, acc, 0, acc, 0);
    }
    return Hash.copyOf(acc);
  }

  private void checkRoom() {
    if (size == Long.MAX_VALUE) {
      throw new IllegalStateException("a Merkle tree holds at most 2^63 - 1 leaves");
    }
  }

  /** Takes the hash just written at slot {@code depth} onto the stack and merges equal subtrees. */
  private void push() {
    depth++;
    size++;
    // Each trailing zero bit of the new count is a pair of equal subtrees to merge.
    for (long s = size; (s & 1) == 0; s >>>= 1) {
      int right = (depth - 1) * Hash.LENGTH;
      int left = right - Hash.LENGTH;
      scratch[0] = NODE;
      System.arraycopy(stack, left, scratch, 1, 2 * Hash.LENGTH);
      md.update(scratch, 0, 1 + 2 * Hash.LENGTH);
      finish(left);
      depth--;
    }
  }

  private void finish(int offset) {
    try {
      md.digest(stack, offset, Hash.LENGTH);
    } catch (DigestException e) {
      throw new IllegalStateException(e);
    }
  }
}
