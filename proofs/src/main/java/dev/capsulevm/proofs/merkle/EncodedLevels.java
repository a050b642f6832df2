package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Hash;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A tree's kept levels ({@link MerkleTree#encodedLevels}) read in place, typically a store's value: each
 * answer reads only the O(log n) nodes it needs, where {@link MerkleTree#fromEncodedLevels} copies every
 * level (the whole tree, for a proof of one leaf). The root is computed once, when made (the O(log n)
 * nodes of the ragged right edge). Valid while the buffer's memory is (an LMDB value: until its read
 * transaction ends); the levels are trusted as given, as by {@code fromEncodedLevels}, so this is for a
 * store reading back what it wrote, which checks the root against what it expects.
 */
public final class EncodedLevels {
  private final ByteBuffer encoded;
  private final long size;
  /** Where each level starts in the buffer, from the buffer's position. */
  private final long[] levelStart;
  private final Hash root;

  private EncodedLevels(ByteBuffer encoded, long size, long[] levelStart) {
    this.encoded = encoded;
    this.size = size;
    this.levelStart = levelStart;
    this.root = MerkleTree.subtreeHash(this::copy, Merkle.threadDigest(), 0, size);
  }

  /**
   * The levels of a tree of {@code size} leaves held by {@code encoded} from its position to its limit.
   *
   * @throws IllegalArgumentException when the length does not fit {@code size}
   */
  public static EncodedLevels of(long size, ByteBuffer encoded) {
    Objects.requireNonNull(encoded, "encoded");
    if (size < 1 || encoded.remaining() != MerkleTree.encodedLevelsLength(size)) {
      throw new IllegalArgumentException(encoded.remaining() + " bytes are not the levels of a tree of " + size
          + " leaves");
    }
    long[] starts = new long[size == 1 ? 1 : 64 - Long.numberOfLeadingZeros(size)];
    long at = encoded.position();
    for (int k = 0; k < starts.length; k++) {
      starts[k] = at;
      at += (size >> k) * Hash.LENGTH;
    }
    return new EncodedLevels(encoded, size, starts);
  }

  /** The number of leaves. */
  public long size() {
    return size;
  }

  /** The RFC 9162 root. */
  public Hash root() {
    return root;
  }

  /** The root, leaf {@code index}'s hash and its inclusion proof. */
  public LeafProof leafProof(long index) {
    byte[] leaf = new byte[Hash.LENGTH];
    Objects.checkIndex(index, size);
    copy(0, index, leaf, 0);
    return new LeafProof(root, Hash.copyOf(leaf), MerkleTree.inclusionProof(this::copy, size, index));
  }

  /** A tree holding a copy of every level, for a caller that keeps it past the buffer's life. */
  public MerkleTree toTree() {
    byte[] levels = new byte[Math.toIntExact(MerkleTree.encodedLevelsLength(size))];
    encoded.get(Math.toIntExact(levelStart[0]), levels);
    return MerkleTree.fromEncodedLevels(size, levels);
  }

  private void copy(int level, long position, byte[] out, int at) {
    encoded.get(Math.toIntExact(levelStart[level] + position * Hash.LENGTH), out, at, Hash.LENGTH);
  }
}
