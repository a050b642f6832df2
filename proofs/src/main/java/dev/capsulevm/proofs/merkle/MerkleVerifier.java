package dev.capsulevm.proofs.merkle;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import java.util.List;

/** Verifies RFC 9162 inclusion (2.1.3.2) and consistency (2.1.4.2) proofs. */
public final class MerkleVerifier {
  private MerkleVerifier() {}

  /**
   * Checks that {@code leafHash} is leaf {@code proof.index()} of the tree of {@code proof.treeSize()}
   * leaves with {@code root}.
   *
   * @throws VerificationException BAD_INCLUSION_PROOF naming what does not hold
   */
  public static void verifyInclusion(Hash leafHash, InclusionProof proof, Hash root)
      throws VerificationException {
    long index = proof.index();
    long size = proof.treeSize();
    if (index >= size) {
      throw bad(Failure.BAD_INCLUSION_PROOF, "index " + index + " is not below the tree size " + size);
    }
    long fn = index;
    long sn = size - 1;
    Hash r = leafHash;
    for (Hash p : proof.path()) {
      if (sn == 0) {
        throw bad(Failure.BAD_INCLUSION_PROOF, "the path is longer than a tree of " + size + " needs");
      }
      if ((fn & 1) == 1 || fn == sn) {
        r = Merkle.nodeHash(p, r);
        while ((fn & 1) == 0 && fn != 0) {
          fn >>>= 1;
          sn >>>= 1;
        }
      } else {
        r = Merkle.nodeHash(r, p);
      }
      fn >>>= 1;
      sn >>>= 1;
    }
    if (sn != 0) {
      throw bad(Failure.BAD_INCLUSION_PROOF, "the path is shorter than a tree of " + size + " needs");
    }
    if (!r.equals(root)) {
      throw bad(Failure.BAD_INCLUSION_PROOF, "the path leads to root " + r + ", expected " + root);
    }
  }

  /**
   * Checks that the tree of {@code proof.oldSize()} leaves with {@code oldRoot} is a prefix of the
   * tree of {@code proof.newSize()} leaves with {@code newRoot}. An old size of 0 is always refused.
   *
   * @throws VerificationException BAD_CONSISTENCY_PROOF naming what does not hold
   */
  public static void verifyConsistency(Hash oldRoot, Hash newRoot, ConsistencyProof proof)
      throws VerificationException {
    long m = proof.oldSize();
    long n = proof.newSize();
    List<Hash> path = proof.path();
    if (m == 0) {
      throw bad(Failure.BAD_CONSISTENCY_PROOF, "the old size is 0; an empty tree proves nothing");
    }
    if (m > n) {
      throw bad(Failure.BAD_CONSISTENCY_PROOF, "the old size " + m + " exceeds the new size " + n);
    }
    if (m == n) {
      if (!path.isEmpty()) {
        throw bad(Failure.BAD_CONSISTENCY_PROOF, "equal sizes need an empty proof, got " + path.size() + " hashes");
      }
      if (!oldRoot.equals(newRoot)) {
        throw bad(Failure.BAD_CONSISTENCY_PROOF, "equal sizes but roots " + oldRoot + " and " + newRoot + " differ");
      }
      return;
    }
    if (path.isEmpty()) {
      throw bad(Failure.BAD_CONSISTENCY_PROOF, "the proof is empty but the sizes differ");
    }
    int next = 0;
    Hash first;
    if (Long.bitCount(m) == 1) {
      first = oldRoot;
    } else {
      first = path.get(next++);
    }
    long fn = m - 1;
    long sn = n - 1;
    while ((fn & 1) == 1) {
      fn >>>= 1;
      sn >>>= 1;
    }
    Hash fr = first;
    Hash sr = first;
    for (; next < path.size(); next++) {
      Hash c = path.get(next);
      if (sn == 0) {
        throw bad(Failure.BAD_CONSISTENCY_PROOF, "the proof is longer than sizes " + m + " and " + n + " need");
      }
      if ((fn & 1) == 1 || fn == sn) {
        fr = Merkle.nodeHash(c, fr);
        sr = Merkle.nodeHash(c, sr);
        while ((fn & 1) == 0 && fn != 0) {
          fn >>>= 1;
          sn >>>= 1;
        }
      } else {
        sr = Merkle.nodeHash(sr, c);
      }
      fn >>>= 1;
      sn >>>= 1;
    }
    if (sn != 0) {
      throw bad(Failure.BAD_CONSISTENCY_PROOF, "the proof is shorter than sizes " + m + " and " + n + " need");
    }
    if (!fr.equals(oldRoot)) {
      throw bad(Failure.BAD_CONSISTENCY_PROOF, "the proof leads to old root " + fr + ", expected " + oldRoot);
    }
    if (!sr.equals(newRoot)) {
      throw bad(Failure.BAD_CONSISTENCY_PROOF, "the proof leads to new root " + sr + ", expected " + newRoot);
    }
  }

  private static VerificationException bad(Failure failure, String message) {
    return new VerificationException(failure, message);
  }
}
