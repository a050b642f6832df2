package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import java.security.MessageDigest;

/**
 * Computes the RFC 9162 root of any number of leaves in O(log n) memory: it keeps the roots of the
 * perfect subtrees seen so far (at most 64) in one array and merges equal-sized neighbours as leaves
 * arrive. Adding a leaf allocates nothing. Not thread-safe.
 */
public final class MerkleRootBuilder {
  private static final byte LEAF = Domain.MERKLE_LEAF.tag();
  private static final byte NODE = Domain.MERKLE_NODE.tag();

  private final MessageDigest digest = Sha256.newDigest();
  /** Subtree roots, largest (leftmost) first; slot i at offset 32 i. */
  private final byte[] stack = new byte[65 * Hash.LENGTH];
  private final byte[] scratch = new byte[Hash.LENGTH];
  private int depth;
  private long size;

  /** Adds a leaf whose data is {@code data}. */
  public void add(byte[] data) {
    add(data, 0, data.length);
  }

  /** Adds a leaf whose data is {@code length} bytes of {@code data} from {@code offset}. */
  public void add(byte[] data, int offset, int length) {
    Sha256.hashTagged(digest, LEAF, data, offset, length, stack, depth * Hash.LENGTH);
    push();
  }

  /** Adds a leaf by its RFC 9162 leaf hash. */
  public void addLeafHash(Hash leafHash) {
    leafHash.copyTo(stack, depth * Hash.LENGTH);
    push();
  }

  private void push() {
    depth++;
    size++;
    // Each trailing zero bit of the new size closes one perfect subtree: merge the top two roots.
    for (long s = size; (s & 1) == 0; s >>>= 1) {
      int right = (depth - 1) * Hash.LENGTH;
      int left = right - Hash.LENGTH;
      Sha256.hashPair(digest, NODE, stack, left, stack, right, stack, left);
      depth--;
    }
  }

  /** How many leaves have been added. */
  public long size() {
    return size;
  }

  /** The root of the leaves so far; more may be added afterwards. */
  public Hash root() {
    if (size == 0) {
      return Merkle.emptyRoot();
    }
    byte[] acc = new byte[Hash.LENGTH];
    System.arraycopy(stack, (depth - 1) * Hash.LENGTH, acc, 0, Hash.LENGTH);
    for (int i = depth - 2; i >= 0; i--) {
      Sha256.hashPair(digest, NODE, stack, i * Hash.LENGTH, acc, 0, scratch, 0);
      System.arraycopy(scratch, 0, acc, 0, Hash.LENGTH);
    }
    return Hash.copyOf(acc);
  }
}
