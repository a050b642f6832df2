package dev.capsulevm.proofs.merkle;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MerkleTreeTest {
  private static final int MAX_INCLUSION_SIZE = 300;
  private static final int MAX_CONSISTENCY_SIZE = 100;
  private static final int MAX_REFERENCE_SIZE = 64;

  @Test
  void inclusionProof_everySizeAndIndex_verifies() {
    List<byte[]> all = Reference.leaves(MAX_INCLUSION_SIZE);
    for (int n = 1; n <= MAX_INCLUSION_SIZE; n++) {
      List<byte[]> leaves = all.subList(0, n);
      MerkleTree tree = MerkleTree.ofLeaves(leaves);
      Hash root = tree.root();
      for (int i = 0; i < n; i++) {
        InclusionProof proof = tree.inclusionProof(i);
        assertEquals(i, proof.index());
        assertEquals(n, proof.treeSize());
        assertEquals(MerkleVerifier.inclusionPathLength(i, n), proof.path().size());
        Hash leaf = tree.leafHash(i);
        assertEquals(Merkle.leafHash(leaves.get(i)), leaf);
        int size = n;
        int index = i;
        assertDoesNotThrow(
            () -> MerkleVerifier.verifyInclusion(leaf, proof, root), () -> "n=" + size + " i=" + index);
      }
    }
  }

  @Test
  void encodedLevelsReadInPlace_giveTheTreesRootAndLeafProofs_everySizeAndIndex() {
    List<byte[]> all = Reference.leaves(MAX_CONSISTENCY_SIZE);
    for (int n = 1; n <= MAX_CONSISTENCY_SIZE; n++) {
      MerkleTree tree = MerkleTree.ofLeaves(all.subList(0, n));
      byte[] levels = tree.encodedLevels();
      // Inside a larger buffer, as a store's value may be: positions count from the buffer's position.
      ByteBuffer buffer = ByteBuffer.allocate(levels.length + 9).position(5);
      buffer.put(levels).position(5).limit(5 + levels.length);
      EncodedLevels kept = EncodedLevels.of(n, buffer);
      assertEquals(tree.root(), kept.root(), "n=" + n);
      for (int i = 0; i < n; i++) {
        assertEquals(tree.leafProof(i), kept.leafProof(i), "n=" + n + " i=" + i);
      }
      assertEquals(tree.root(), kept.toTree().root());
      assertEquals(tree.inclusionProof(n - 1), kept.toTree().inclusionProof(n - 1));
      assertEquals(5, buffer.position(), "read in place, by absolute index");
    }
    assertThrows(IllegalArgumentException.class, () -> EncodedLevels.of(3, ByteBuffer.allocate(32 * 3)));
  }

  @Test
  void inclusionProof_smallTrees_equalsNaivePath() {
    List<byte[]> all = Reference.leaves(MAX_REFERENCE_SIZE);
    for (int n = 1; n <= MAX_REFERENCE_SIZE; n++) {
      List<byte[]> leaves = all.subList(0, n);
      MerkleTree tree = MerkleTree.ofLeaves(leaves);
      for (int i = 0; i < n; i++) {
        assertEquals(Reference.path(i, leaves), tree.inclusionProof(i).path(), "n=" + n + " i=" + i);
      }
    }
  }

  @Test
  void consistencyProof_everyPairOfSizes_verifies() {
    List<byte[]> all = Reference.leaves(MAX_CONSISTENCY_SIZE);
    Hash[] roots = new Hash[MAX_CONSISTENCY_SIZE + 1];
    for (int m = 1; m <= MAX_CONSISTENCY_SIZE; m++) {
      roots[m] = Merkle.root(all.subList(0, m));
    }
    for (int n = 1; n <= MAX_CONSISTENCY_SIZE; n++) {
      MerkleTree tree = MerkleTree.ofLeaves(all.subList(0, n));
      for (int m = 1; m <= n; m++) {
        ConsistencyProof proof = tree.consistencyProof(m);
        assertEquals(m, proof.oldSize());
        assertEquals(n, proof.newSize());
        if (m == n) {
          assertTrue(proof.path().isEmpty());
        } else {
          assertEquals(MerkleVerifier.consistencyPathLength(m, n), proof.path().size(), m + "->" + n);
        }
        Hash oldRoot = roots[m];
        int from = m;
        int to = n;
        assertDoesNotThrow(
            () -> MerkleVerifier.verifyConsistency(oldRoot, tree.root(), proof), () -> from + "->" + to);
      }
    }
  }

  @Test
  void consistencyProof_smallTrees_equalsNaiveSubproof() {
    List<byte[]> all = Reference.leaves(MAX_REFERENCE_SIZE);
    for (int n = 1; n <= MAX_REFERENCE_SIZE; n++) {
      List<byte[]> leaves = all.subList(0, n);
      MerkleTree tree = MerkleTree.ofLeaves(leaves);
      for (int m = 1; m <= n; m++) {
        assertEquals(
            Reference.consistency(m, leaves), tree.consistencyProof(m).path(), m + "->" + n);
      }
    }
  }

  @Test
  void consistencyProof_rfcExampleTree_hasExpectedHashes() {
    // RFC 9162 2.1.5, the tree of 7 leaves d0..d6: PROOF(3) = [c, d, g, l], PROOF(4) = [l],
    // PROOF(6) = [i, j, k] where c, d are leaf hashes 2 and 3, g = MTH(d0..d1), l = MTH(d4..d6),
    // i = MTH(d4..d5), j = leaf hash 6 and k = MTH(d0..d3).
    List<byte[]> d = Reference.leaves(7);
    MerkleTree tree = MerkleTree.ofLeaves(d);
    Hash c = Merkle.leafHash(d.get(2));
    Hash dHash = Merkle.leafHash(d.get(3));
    Hash g = Merkle.root(d.subList(0, 2));
    Hash l = Merkle.root(d.subList(4, 7));
    Hash i = Merkle.root(d.subList(4, 6));
    Hash j = Merkle.leafHash(d.get(6));
    Hash k = Merkle.root(d.subList(0, 4));
    assertEquals(List.of(c, dHash, g, l), tree.consistencyProof(3).path());
    assertEquals(List.of(l), tree.consistencyProof(4).path());
    assertEquals(List.of(i, j, k), tree.consistencyProof(6).path());
  }

  @Test
  void inclusionProof_rfcExampleTree_hasExpectedHashes() {
    // RFC 9162 2.1.5: PATH(3, D[7]) = [c, g, l] and PATH(4, D[7]) = [leaf 5, leaf 6, k].
    List<byte[]> d = Reference.leaves(7);
    MerkleTree tree = MerkleTree.ofLeaves(d);
    assertEquals(
        List.of(Merkle.leafHash(d.get(2)), Merkle.root(d.subList(0, 2)), Merkle.root(d.subList(4, 7))),
        tree.inclusionProof(3).path());
    assertEquals(
        List.of(Merkle.leafHash(d.get(5)), Merkle.leafHash(d.get(6)), Merkle.root(d.subList(0, 4))),
        tree.inclusionProof(4).path());
    assertEquals(
        List.of(Merkle.root(d.subList(4, 6)), Merkle.root(d.subList(0, 4))),
        tree.inclusionProof(6).path());
  }

  @Test
  void inclusionProof_indexOutOfRange_throws() {
    MerkleTree tree = MerkleTree.ofLeaves(Reference.leaves(5));
    assertThrows(IndexOutOfBoundsException.class, () -> tree.inclusionProof(5));
    assertThrows(IndexOutOfBoundsException.class, () -> tree.inclusionProof(-1));
    assertThrows(IndexOutOfBoundsException.class, () -> tree.leafHash(5));
    assertThrows(IndexOutOfBoundsException.class, () -> MerkleTree.ofLeaves(List.of()).inclusionProof(0));
  }

  @Test
  void consistencyProof_oldSizeOutOfRange_throws() {
    MerkleTree tree = MerkleTree.ofLeaves(Reference.leaves(5));
    assertThrows(IllegalArgumentException.class, () -> tree.consistencyProof(0));
    assertThrows(IllegalArgumentException.class, () -> tree.consistencyProof(6));
  }

  @Test
  void proofRecords_negativeNumbers_rejectedAndPathCopied() {
    assertThrows(IllegalArgumentException.class, () -> new InclusionProof(-1, 3, List.of()));
    assertThrows(IllegalArgumentException.class, () -> new InclusionProof(0, -3, List.of()));
    assertThrows(IllegalArgumentException.class, () -> new ConsistencyProof(-1, 3, List.of()));
    assertThrows(IllegalArgumentException.class, () -> new ConsistencyProof(1, -3, List.of()));
    ArrayList<Hash> path = new ArrayList<>(List.of(Merkle.emptyRoot()));
    InclusionProof proof = new InclusionProof(0, 2, path);
    path.clear();
    assertEquals(1, proof.path().size());
    assertThrows(UnsupportedOperationException.class, () -> proof.path().add(Merkle.emptyRoot()));
  }

  @Test
  void encodedLevels_readBack_giveTheSameRootAndProofsForEverySize() {
    for (int n = 0; n <= 70; n++) {
      List<byte[]> leaves = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        leaves.add(new byte[] {(byte) i, (byte) n});
      }
      MerkleTree tree = MerkleTree.ofLeaves(leaves);
      byte[] encoded = tree.encodedLevels();
      assertEquals(MerkleTree.encodedLevelsLength(n), encoded.length);
      MerkleTree back = MerkleTree.fromEncodedLevels(n, encoded);
      assertEquals(tree.root(), back.root(), "root of " + n);
      for (int i = 0; i < n; i++) {
        assertEquals(tree.inclusionProof(i), back.inclusionProof(i), "proof of " + i + " in " + n);
      }
      int size = n;
      assertThrows(IllegalArgumentException.class, () -> MerkleTree.fromEncodedLevels(size + 1, encoded));
    }
  }
}
