package dev.capsulevm.proofs.merkle;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class MerkleVerifierTest {
  private static final List<byte[]> LEAVES = Reference.leaves(13);
  private static final MerkleTree TREE = MerkleTree.ofLeaves(LEAVES);

  private static VerificationException rejected(Failure failure, Executable check) {
    VerificationException e = assertThrows(VerificationException.class, check);
    assertEquals(failure, e.failure());
    return e;
  }

  private static Hash oldRoot(int m) {
    return Merkle.root(LEAVES.subList(0, m));
  }

  @Test
  void verifyInclusion_indexAtSize_rejected() {
    InclusionProof good = TREE.inclusionProof(12);
    InclusionProof bad = new InclusionProof(13, 13, good.path());
    VerificationException e =
        rejected(Failure.BAD_INCLUSION_PROOF, () -> MerkleVerifier.verifyInclusion(TREE.leafHash(12), bad, TREE.root()));
    assertTrue(e.getMessage().contains("index 13 >= tree size 13"), e.getMessage());
  }

  @Test
  void verifyInclusion_emptyTree_rejected() {
    InclusionProof bad = new InclusionProof(0, 0, List.of());
    rejected(
        Failure.BAD_INCLUSION_PROOF,
        () -> MerkleVerifier.verifyInclusion(Merkle.emptyRoot(), bad, Merkle.emptyRoot()));
  }

  @Test
  void verifyInclusion_truncatedPath_rejectedNamingLength() {
    InclusionProof good = TREE.inclusionProof(5);
    InclusionProof bad = new InclusionProof(5, 13, good.path().subList(0, good.path().size() - 1));
    VerificationException e =
        rejected(Failure.BAD_INCLUSION_PROOF, () -> MerkleVerifier.verifyInclusion(TREE.leafHash(5), bad, TREE.root()));
    assertTrue(e.getMessage().contains("wrong path length"), e.getMessage());
  }

  @Test
  void verifyInclusion_appendedElement_rejected() {
    InclusionProof good = TREE.inclusionProof(5);
    List<Hash> longer = new ArrayList<>(good.path());
    longer.add(TREE.root());
    InclusionProof bad = new InclusionProof(5, 13, longer);
    rejected(Failure.BAD_INCLUSION_PROOF, () -> MerkleVerifier.verifyInclusion(TREE.leafHash(5), bad, TREE.root()));
  }

  @Test
  void verifyInclusion_wrongLeaf_rejectedNamingBothRoots() {
    InclusionProof good = TREE.inclusionProof(5);
    VerificationException e =
        rejected(Failure.BAD_INCLUSION_PROOF, () -> MerkleVerifier.verifyInclusion(TREE.leafHash(6), good, TREE.root()));
    assertTrue(e.getMessage().contains("computed root "), e.getMessage());
    assertTrue(e.getMessage().contains("vs expected " + TREE.root().toHex()), e.getMessage());
  }

  @Test
  void verifyInclusion_singleLeafTree_emptyPathAccepted() {
    MerkleTree one = MerkleTree.ofLeaves(LEAVES.subList(0, 1));
    assertDoesNotThrow(
        () -> MerkleVerifier.verifyInclusion(one.leafHash(0), new InclusionProof(0, 1, List.of()), one.root()));
  }

  @Test
  void verifyConsistency_oldSizeZero_rejected() {
    rejected(
        Failure.BAD_CONSISTENCY_PROOF,
        () -> MerkleVerifier.verifyConsistency(Merkle.emptyRoot(), TREE.root(), new ConsistencyProof(0, 13, List.of())));
    rejected(
        Failure.BAD_CONSISTENCY_PROOF,
        () -> MerkleVerifier.verifyConsistency(Merkle.emptyRoot(), Merkle.emptyRoot(), new ConsistencyProof(0, 0, List.of())));
  }

  @Test
  void verifyConsistency_oldSizeAboveNewSize_rejected() {
    ConsistencyProof bad = new ConsistencyProof(13, 12, TREE.consistencyProof(12).path());
    VerificationException e =
        rejected(Failure.BAD_CONSISTENCY_PROOF, () -> MerkleVerifier.verifyConsistency(TREE.root(), oldRoot(12), bad));
    assertTrue(e.getMessage().contains("old size 13 > new size 12"), e.getMessage());
  }

  @Test
  void verifyConsistency_equalSizes_acceptedOnlyWithEmptyProofAndEqualRoots() {
    assertDoesNotThrow(
        () -> MerkleVerifier.verifyConsistency(TREE.root(), TREE.root(), new ConsistencyProof(13, 13, List.of())));
    rejected(
        Failure.BAD_CONSISTENCY_PROOF,
        () -> MerkleVerifier.verifyConsistency(TREE.root(), oldRoot(12), new ConsistencyProof(13, 13, List.of())));
    rejected(
        Failure.BAD_CONSISTENCY_PROOF,
        () -> MerkleVerifier.verifyConsistency(
            TREE.root(), TREE.root(), new ConsistencyProof(13, 13, List.of(TREE.root()))));
  }

  @Test
  void verifyConsistency_emptyProofForGrowth_rejected() {
    rejected(
        Failure.BAD_CONSISTENCY_PROOF,
        () -> MerkleVerifier.verifyConsistency(oldRoot(4), TREE.root(), new ConsistencyProof(4, 13, List.of())));
  }

  @Test
  void verifyConsistency_extraOrMissingElements_rejected() {
    for (int m = 1; m < 13; m++) {
      ConsistencyProof good = TREE.consistencyProof(m);
      Hash old = oldRoot(m);
      assertDoesNotThrow(() -> MerkleVerifier.verifyConsistency(old, TREE.root(), good));
      List<Hash> longer = new ArrayList<>(good.path());
      longer.add(old);
      ConsistencyProof extra = new ConsistencyProof(m, 13, longer);
      rejected(Failure.BAD_CONSISTENCY_PROOF, () -> MerkleVerifier.verifyConsistency(old, TREE.root(), extra));
      List<Hash> prefixed = new ArrayList<>(good.path());
      prefixed.add(0, old);
      ConsistencyProof extraFirst = new ConsistencyProof(m, 13, prefixed);
      rejected(Failure.BAD_CONSISTENCY_PROOF, () -> MerkleVerifier.verifyConsistency(old, TREE.root(), extraFirst));
      ConsistencyProof missing = new ConsistencyProof(m, 13, good.path().subList(0, good.path().size() - 1));
      rejected(Failure.BAD_CONSISTENCY_PROOF, () -> MerkleVerifier.verifyConsistency(old, TREE.root(), missing));
    }
  }

  @Test
  void verifyConsistency_swappedRoots_rejected() {
    ConsistencyProof good = TREE.consistencyProof(5);
    rejected(Failure.BAD_CONSISTENCY_PROOF, () -> MerkleVerifier.verifyConsistency(TREE.root(), oldRoot(5), good));
  }

  @Test
  void pathLengths_matchGeneratedProofs() {
    for (int n = 1; n <= 70; n++) {
      MerkleTree tree = MerkleTree.ofLeaves(Reference.leaves(n));
      for (int i = 0; i < n; i++) {
        assertEquals(tree.inclusionProof(i).path().size(), MerkleVerifier.inclusionPathLength(i, n));
      }
      for (int m = 1; m < n; m++) {
        assertEquals(tree.consistencyProof(m).path().size(), MerkleVerifier.consistencyPathLength(m, n));
      }
    }
  }
}
