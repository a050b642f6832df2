package dev.capsulevm.proofs.merkle;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.function.Executable;

/** Property tests: every single-bit change to a valid proof's inputs is rejected. */
class MerkleVerifierProperties {
  private static final int TRIES = 300;
  private static final int MAX_SIZE = 200;
  private static final List<byte[]> ALL = Reference.leaves(MAX_SIZE);

  /** A tree size and an index in it. */
  record Position(int size, int index) {}

  @Provide
  Arbitrary<Position> positions() {
    return Arbitraries.integers()
        .between(1, MAX_SIZE)
        .flatMap(n -> Arbitraries.integers().between(0, n - 1).map(i -> new Position(n, i)));
  }

  /** Sizes {@code 1 <= m < n}. */
  @Provide
  Arbitrary<Position> growths() {
    return Arbitraries.integers()
        .between(2, MAX_SIZE)
        .flatMap(n -> Arbitraries.integers().between(1, n - 1).map(m -> new Position(n, m)));
  }

  private static MerkleTree tree(int n) {
    return MerkleTree.ofLeaves(ALL.subList(0, n));
  }

  private static void rejectedInclusion(Executable check) {
    VerificationException e = assertThrows(VerificationException.class, check);
    assertEquals(Failure.BAD_INCLUSION_PROOF, e.failure());
  }

  private static void rejectedConsistency(Executable check) {
    VerificationException e = assertThrows(VerificationException.class, check);
    assertEquals(Failure.BAD_CONSISTENCY_PROOF, e.failure());
  }

  @Property(tries = TRIES)
  void verifyInclusion_validProof_accepted(@ForAll("positions") Position p) {
    MerkleTree t = tree(p.size());
    assertDoesNotThrow(
        () -> MerkleVerifier.verifyInclusion(t.leafHash(p.index()), t.inclusionProof(p.index()), t.root()));
  }

  @Property(tries = TRIES)
  void verifyInclusion_flippedLeafDataBit_rejected(
      @ForAll("positions") Position p, @ForAll @IntRange(min = 0, max = 1023) int bit) {
    MerkleTree t = tree(p.size());
    byte[] data = ALL.get(p.index()).clone();
    int b = bit % (8 * data.length);
    data[b >>> 3] ^= (byte) (1 << (b & 7));
    rejectedInclusion(
        () -> MerkleVerifier.verifyInclusion(Merkle.leafHash(data), t.inclusionProof(p.index()), t.root()));
  }

  @Property(tries = TRIES)
  void verifyInclusion_flippedLeafHashBit_rejected(
      @ForAll("positions") Position p, @ForAll @IntRange(min = 0, max = 255) int bit) {
    MerkleTree t = tree(p.size());
    Hash leaf = Reference.flipBit(t.leafHash(p.index()), bit);
    rejectedInclusion(() -> MerkleVerifier.verifyInclusion(leaf, t.inclusionProof(p.index()), t.root()));
  }

  @Property(tries = TRIES)
  void verifyInclusion_flippedPathBit_rejected(
      @ForAll("positions") Position p,
      @ForAll @IntRange(min = 0, max = 63) int element,
      @ForAll @IntRange(min = 0, max = 255) int bit) {
    MerkleTree t = tree(p.size());
    InclusionProof good = t.inclusionProof(p.index());
    if (good.path().isEmpty()) {
      return; // a one-leaf tree has no path to corrupt
    }
    List<Hash> path = new ArrayList<>(good.path());
    int e = element % path.size();
    path.set(e, Reference.flipBit(path.get(e), bit));
    InclusionProof bad = new InclusionProof(p.index(), p.size(), path);
    rejectedInclusion(() -> MerkleVerifier.verifyInclusion(t.leafHash(p.index()), bad, t.root()));
  }

  @Property(tries = TRIES)
  void verifyInclusion_flippedRootBit_rejected(
      @ForAll("positions") Position p, @ForAll @IntRange(min = 0, max = 255) int bit) {
    MerkleTree t = tree(p.size());
    Hash root = Reference.flipBit(t.root(), bit);
    rejectedInclusion(
        () -> MerkleVerifier.verifyInclusion(t.leafHash(p.index()), t.inclusionProof(p.index()), root));
  }

  @Property(tries = TRIES)
  void verifyInclusion_flippedIndexBit_rejected(
      @ForAll("positions") Position p, @ForAll @IntRange(min = 0, max = 62) int bit) {
    MerkleTree t = tree(p.size());
    InclusionProof good = t.inclusionProof(p.index());
    InclusionProof bad = new InclusionProof(p.index() ^ (1L << bit), p.size(), good.path());
    rejectedInclusion(() -> MerkleVerifier.verifyInclusion(t.leafHash(p.index()), bad, t.root()));
  }

  /**
   * A changed size is rejected whenever it changes the shape of the path (which side each sibling
   * is on). RFC 9162 inclusion proofs cannot do better: a size with the same shape (e.g. index 0 in
   * trees of 5 and of 7 leaves) replays the same hash computation, so the root alone decides; see
   * {@link #verifyInclusion_sizeWithSameShape_notDetectable()}.
   */
  @Property(tries = TRIES)
  void verifyInclusion_flippedSizeBit_rejectedUnlessShapeIsUnchanged(
      @ForAll("positions") Position p, @ForAll @IntRange(min = 0, max = 62) int bit) {
    MerkleTree t = tree(p.size());
    InclusionProof good = t.inclusionProof(p.index());
    long size = p.size() ^ (1L << bit);
    InclusionProof bad = new InclusionProof(p.index(), size, good.path());
    Executable check = () -> MerkleVerifier.verifyInclusion(t.leafHash(p.index()), bad, t.root());
    if (size > p.index()
        && Reference.pathShape(p.index(), size).equals(Reference.pathShape(p.index(), p.size()))) {
      assertDoesNotThrow(check);
    } else {
      rejectedInclusion(check);
    }
  }

  @Property(tries = TRIES)
  void verifyInclusion_truncatedPath_rejected(@ForAll("positions") Position p) {
    MerkleTree t = tree(p.size());
    InclusionProof good = t.inclusionProof(p.index());
    if (good.path().isEmpty()) {
      return;
    }
    InclusionProof bad = new InclusionProof(p.index(), p.size(), good.path().subList(0, good.path().size() - 1));
    rejectedInclusion(() -> MerkleVerifier.verifyInclusion(t.leafHash(p.index()), bad, t.root()));
  }

  @Property(tries = TRIES)
  void verifyInclusion_appendedElement_rejected(@ForAll("positions") Position p, @ForAll boolean front) {
    MerkleTree t = tree(p.size());
    List<Hash> path = new ArrayList<>(t.inclusionProof(p.index()).path());
    path.add(front ? 0 : path.size(), t.leafHash(p.index()));
    InclusionProof bad = new InclusionProof(p.index(), p.size(), path);
    rejectedInclusion(() -> MerkleVerifier.verifyInclusion(t.leafHash(p.index()), bad, t.root()));
  }

  @Property(tries = TRIES)
  void verifyInclusion_indexAtOrAboveSize_rejected(
      @ForAll("positions") Position p, @ForAll @IntRange(min = 0, max = 1000) int beyond) {
    MerkleTree t = tree(p.size());
    InclusionProof bad = new InclusionProof(p.size() + beyond, p.size(), t.inclusionProof(p.index()).path());
    rejectedInclusion(() -> MerkleVerifier.verifyInclusion(t.leafHash(p.index()), bad, t.root()));
  }

  @Property(tries = TRIES)
  void verifyConsistency_validProof_accepted(@ForAll("growths") Position g) {
    MerkleTree t = tree(g.size());
    Hash old = Merkle.root(ALL.subList(0, g.index()));
    assertDoesNotThrow(() -> MerkleVerifier.verifyConsistency(old, t.root(), t.consistencyProof(g.index())));
  }

  @Property(tries = TRIES)
  void verifyConsistency_flippedPathBit_rejected(
      @ForAll("growths") Position g,
      @ForAll @IntRange(min = 0, max = 63) int element,
      @ForAll @IntRange(min = 0, max = 255) int bit) {
    MerkleTree t = tree(g.size());
    Hash old = Merkle.root(ALL.subList(0, g.index()));
    List<Hash> path = new ArrayList<>(t.consistencyProof(g.index()).path());
    int e = element % path.size();
    path.set(e, Reference.flipBit(path.get(e), bit));
    ConsistencyProof bad = new ConsistencyProof(g.index(), g.size(), path);
    rejectedConsistency(() -> MerkleVerifier.verifyConsistency(old, t.root(), bad));
  }

  @Property(tries = TRIES)
  void verifyConsistency_flippedRootBit_rejected(
      @ForAll("growths") Position g, @ForAll @IntRange(min = 0, max = 255) int bit, @ForAll boolean oldOne) {
    MerkleTree t = tree(g.size());
    Hash old = Merkle.root(ALL.subList(0, g.index()));
    Hash oldRoot = oldOne ? Reference.flipBit(old, bit) : old;
    Hash newRoot = oldOne ? t.root() : Reference.flipBit(t.root(), bit);
    ConsistencyProof proof = t.consistencyProof(g.index());
    rejectedConsistency(() -> MerkleVerifier.verifyConsistency(oldRoot, newRoot, proof));
  }

  @Property(tries = TRIES)
  void verifyConsistency_truncatedOrExtendedPath_rejected(
      @ForAll("growths") Position g, @ForAll boolean truncate, @ForAll boolean front) {
    MerkleTree t = tree(g.size());
    Hash old = Merkle.root(ALL.subList(0, g.index()));
    List<Hash> path = new ArrayList<>(t.consistencyProof(g.index()).path());
    if (truncate) {
      path.remove(front ? 0 : path.size() - 1);
    } else {
      path.add(front ? 0 : path.size(), old);
    }
    ConsistencyProof bad = new ConsistencyProof(g.index(), g.size(), path);
    rejectedConsistency(() -> MerkleVerifier.verifyConsistency(old, t.root(), bad));
  }

  @Property(tries = 100)
  void builder_randomLeaves_equalsNaiveRoot(
      @ForAll @IntRange(min = 0, max = 600) int n, @ForAll @IntRange(min = 0, max = 80) int length) {
    List<byte[]> leaves = new ArrayList<>(n);
    Random random = new Random(31L * n + length);
    MerkleRootBuilder builder = new MerkleRootBuilder();
    for (int i = 0; i < n; i++) {
      byte[] d = new byte[(length + i) % 81];
      random.nextBytes(d);
      leaves.add(d);
      builder.add(d);
    }
    assertEquals(Reference.root(leaves), builder.root());
    assertEquals(Reference.root(leaves), MerkleTree.ofLeaves(leaves).root());
  }

  /** Documents the one single-bit change RFC 9162 cannot see: a size with the same path shape. */
  @Example
  void verifyInclusion_sizeWithSameShape_notDetectable() {
    MerkleTree t = tree(5);
    InclusionProof replayed = new InclusionProof(0, 7, t.inclusionProof(0).path());
    assertDoesNotThrow(() -> MerkleVerifier.verifyInclusion(t.leafHash(0), replayed, t.root()));
  }
}
