package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import java.security.MessageDigest;
import java.util.List;
import java.util.Objects;

/** Verifies RFC 9162 inclusion (2.1.3.2) and consistency (2.1.4.2) proofs. */
public final class MerkleVerifier {
  private static final byte NODE = Domain.MERKLE_NODE.tag();

  private MerkleVerifier() {}

  /**
   * Checks that {@code leafHash} is leaf {@code proof.index()} of the tree of {@code
   * proof.treeSize()} leaves whose root is {@code root}.
   *
   * @throws VerificationException with {@link Failure#BAD_INCLUSION_PROOF}, naming what is wrong
   */
  public static void verifyInclusion(Hash leafHash, InclusionProof proof, Hash root)
      throws VerificationException {
    Objects.requireNonNull(root, "root");
    Hash computed = inclusionRoot(leafHash, proof);
    if (!root.equals(computed)) {
      throw new VerificationException(
          Failure.BAD_INCLUSION_PROOF, "computed root " + computed.toHex() + " vs expected " + root.toHex());
    }
  }

  /**
   * The root that {@code proof} leads to from {@code leafHash}: for objects that commit to a tree's
   * root inside a larger hash, so the expected root itself is not known in advance.
   *
   * @throws VerificationException with {@link Failure#BAD_INCLUSION_PROOF} when the index is not below
   *     the tree size or the path has the wrong length for them
   */
  public static Hash inclusionRoot(Hash leafHash, InclusionProof proof) throws VerificationException {
    Objects.requireNonNull(leafHash, "leafHash");
    Objects.requireNonNull(proof, "proof");
    long index = proof.index();
    long size = proof.treeSize();
    List<Hash> path = proof.path();
    if (index >= size) {
      throw new VerificationException(
          Failure.BAD_INCLUSION_PROOF, "index " + index + " >= tree size " + size);
    }
    int expected = inclusionPathLength(index, size);
    if (path.size() != expected) {
      throw new VerificationException(
          Failure.BAD_INCLUSION_PROOF,
          "wrong path length: " + path.size() + " hashes for index " + index + " in a tree of "
              + size + ", expected " + expected);
    }
    MessageDigest md = Merkle.threadDigest();
    byte[] r = leafHash.toByteArray();
    byte[] p = new byte[Hash.LENGTH];
    long fn = index;
    long sn = size - 1;
    for (Hash sibling : path) {
      sibling.copyTo(p, 0);
      if ((fn & 1) == 1 || fn == sn) {
        Sha256.hashPair(md, NODE, p, 0, r, 0, r, 0);
        if ((fn & 1) == 0) {
          while ((fn & 1) == 0 && fn != 0) {
            fn >>>= 1;
            sn >>>= 1;
          }
        }
      } else {
        Sha256.hashPair(md, NODE, r, 0, p, 0, r, 0);
      }
      fn >>>= 1;
      sn >>>= 1;
    }
    return Hash.copyOf(r);
  }

  /**
   * Checks that the tree of {@code proof.newSize()} leaves with root {@code newRoot} extends the
   * tree of {@code proof.oldSize()} leaves with root {@code oldRoot}.
   *
   * <p>Edge rules: an old size of 0 is always rejected (RFC 9162 defines no proof for it); an old
   * size above the new size is rejected; equal sizes are accepted only with an empty proof and equal
   * roots; otherwise the path must have exactly the length the sizes imply.
   *
   * @throws VerificationException with {@link Failure#BAD_CONSISTENCY_PROOF}, naming what is wrong
   */
  public static void verifyConsistency(Hash oldRoot, Hash newRoot, ConsistencyProof proof)
      throws VerificationException {
    Objects.requireNonNull(oldRoot, "oldRoot");
    Objects.requireNonNull(newRoot, "newRoot");
    Objects.requireNonNull(proof, "proof");
    long m = proof.oldSize();
    long n = proof.newSize();
    List<Hash> path = proof.path();
    if (m == 0) {
      throw new VerificationException(
          Failure.BAD_CONSISTENCY_PROOF, "old size 0: there is no consistency proof from the empty tree");
    }
    if (m > n) {
      throw new VerificationException(
          Failure.BAD_CONSISTENCY_PROOF, "old size " + m + " > new size " + n);
    }
    if (m == n) {
      if (!path.isEmpty()) {
        throw new VerificationException(
            Failure.BAD_CONSISTENCY_PROOF,
            "wrong path length: " + path.size() + " hashes for equal sizes " + m + ", expected 0");
      }
      if (!oldRoot.equals(newRoot)) {
        throw new VerificationException(
            Failure.BAD_CONSISTENCY_PROOF,
            "equal sizes " + m + " but old root " + oldRoot.toHex() + " vs new root " + newRoot.toHex());
      }
      return;
    }
    if (path.isEmpty()) {
      throw new VerificationException(
          Failure.BAD_CONSISTENCY_PROOF, "empty proof for old size " + m + " < new size " + n);
    }
    int expected = consistencyPathLength(m, n);
    if (path.size() != expected) {
      throw new VerificationException(
          Failure.BAD_CONSISTENCY_PROOF,
          "wrong path length: " + path.size() + " hashes from size " + m + " to " + n
              + ", expected " + expected);
    }
    MessageDigest md = Merkle.threadDigest();
    boolean oldIsPowerOfTwo = Long.bitCount(m) == 1;
    byte[] c = new byte[Hash.LENGTH];
    byte[] fr;
    byte[] sr;
    int next;
    if (oldIsPowerOfTwo) {
      fr = oldRoot.toByteArray();
      next = 0;
    } else {
      fr = path.get(0).toByteArray();
      next = 1;
    }
    sr = fr.clone();
    long fn = m - 1;
    long sn = n - 1;
    while ((fn & 1) == 1) {
      fn >>>= 1;
      sn >>>= 1;
    }
    for (int i = next; i < path.size(); i++) {
      path.get(i).copyTo(c, 0);
      if ((fn & 1) == 1 || fn == sn) {
        Sha256.hashPair(md, NODE, c, 0, fr, 0, fr, 0);
        Sha256.hashPair(md, NODE, c, 0, sr, 0, sr, 0);
        while ((fn & 1) == 0 && fn != 0) {
          fn >>>= 1;
          sn >>>= 1;
        }
      } else {
        Sha256.hashPair(md, NODE, sr, 0, c, 0, sr, 0);
      }
      fn >>>= 1;
      sn >>>= 1;
    }
    if (!oldRoot.contentEquals(fr, 0)) {
      throw new VerificationException(
          Failure.BAD_CONSISTENCY_PROOF,
          "computed old root " + Hash.copyOf(fr).toHex() + " vs expected " + oldRoot.toHex());
    }
    if (!newRoot.contentEquals(sr, 0)) {
      throw new VerificationException(
          Failure.BAD_CONSISTENCY_PROOF,
          "computed new root " + Hash.copyOf(sr).toHex() + " vs expected " + newRoot.toHex());
    }
  }

  /** The number of hashes in an inclusion proof of leaf {@code index} in a tree of {@code size}. */
  static int inclusionPathLength(long index, long size) {
    long fn = index;
    long sn = size - 1;
    int count = 0;
    while (sn != 0) {
      if ((fn & 1) == 0 && fn == sn) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>>= 1;
          sn >>>= 1;
        }
      }
      fn >>>= 1;
      sn >>>= 1;
      count++;
    }
    return count;
  }

  /** The number of hashes in a consistency proof from size {@code m} to {@code n}, 0 < m < n. */
  static int consistencyPathLength(long m, long n) {
    long fn = m - 1;
    long sn = n - 1;
    while ((fn & 1) == 1) {
      fn >>>= 1;
      sn >>>= 1;
    }
    int count = 0;
    while (sn != 0) {
      if ((fn & 1) == 1 || fn == sn) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>>= 1;
          sn >>>= 1;
        }
      }
      fn >>>= 1;
      sn >>>= 1;
      count++;
    }
    return Long.bitCount(m) == 1 ? count : count + 1;
  }
}
