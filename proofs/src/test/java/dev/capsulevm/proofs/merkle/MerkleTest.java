package dev.capsulevm.proofs.merkle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Hash;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MerkleTest {
  /** The eight leaves of the RFC 6962 / RFC 9162 test trees. */
  static final List<byte[]> VECTOR_LEAVES =
      List.of(
          hex(""),
          hex("00"),
          hex("10"),
          hex("2021"),
          hex("3031"),
          hex("40414243"),
          hex("5051525354555657"),
          hex("606162636465666768696a6b6c6d6e6f"));

  static final String EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  static final String ROOT_OF_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";

  static byte[] hex(String s) {
    return HexFormat.of().parseHex(s);
  }

  @Test
  void emptyRoot_isSha256OfEmptyString() {
    assertEquals(EMPTY_ROOT, Merkle.emptyRoot().toHex());
    assertEquals(EMPTY_ROOT, Merkle.root(List.of()).toHex());
    assertEquals(EMPTY_ROOT, Merkle.rootOfLeafHashes(List.of()).toHex());
    assertEquals(EMPTY_ROOT, new MerkleRootBuilder().root().toHex());
    assertEquals(EMPTY_ROOT, MerkleTree.ofLeaves(List.of()).root().toHex());
  }

  @Test
  void root_eightVectorLeaves_matchesHardCodedRoot() {
    assertEquals(ROOT_OF_8, Merkle.root(VECTOR_LEAVES).toHex());
    assertEquals(ROOT_OF_8, Reference.root(VECTOR_LEAVES).toHex());
    assertEquals(ROOT_OF_8, MerkleTree.ofLeaves(VECTOR_LEAVES).root().toHex());
  }

  @Test
  void root_vectorPrefixes_matchNaiveReference() {
    for (int n = 0; n <= 8; n++) {
      List<byte[]> leaves = VECTOR_LEAVES.subList(0, n);
      Hash expected = Reference.root(leaves);
      assertEquals(expected, Merkle.root(leaves), "n=" + n);
      assertEquals(expected, MerkleTree.ofLeaves(leaves).root(), "tree n=" + n);
      List<Hash> leafHashes = new ArrayList<>();
      for (byte[] d : leaves) {
        leafHashes.add(Merkle.leafHash(d));
      }
      assertEquals(expected, Merkle.rootOfLeafHashes(leafHashes), "leaf hashes n=" + n);
      assertEquals(expected, MerkleTree.ofLeafHashes(leafHashes).root(), "tree of hashes n=" + n);
    }
  }

  @Test
  void leafHash_isTaggedWithZeroByte() {
    assertEquals(Hash.copyOf(Reference.leaf(hex("2021"))), Merkle.leafHash(hex("2021")));
    // The leaf hash of the empty string is not the empty root: the tag separates them.
    assertNotEquals(Merkle.emptyRoot(), Merkle.leafHash(new byte[0]));
    assertEquals(Merkle.leafHash(new byte[0]), Merkle.root(List.of(new byte[0])));
  }

  @Test
  void nodeHash_isTaggedWithOneByte() {
    Hash a = Merkle.leafHash(hex("00"));
    Hash b = Merkle.leafHash(hex("10"));
    assertEquals(Hash.copyOf(Reference.node(a.toByteArray(), b.toByteArray())), Merkle.nodeHash(a, b));
  }

  @Test
  void builder_randomSizes_equalsNaiveRoot() {
    Random random = new Random(9162);
    for (int trial = 0; trial < 60; trial++) {
      int n = trial < 20 ? trial : random.nextInt(2000);
      List<byte[]> leaves = new ArrayList<>();
      MerkleRootBuilder builder = new MerkleRootBuilder();
      for (int i = 0; i < n; i++) {
        byte[] d = new byte[random.nextInt(100)];
        random.nextBytes(d);
        leaves.add(d);
        if (i % 3 == 0) {
          builder.add(d);
        } else if (i % 3 == 1) {
          byte[] padded = new byte[d.length + 5];
          System.arraycopy(d, 0, padded, 2, d.length);
          builder.add(padded, 2, d.length);
        } else {
          builder.addLeafHash(Merkle.leafHash(d));
        }
      }
      assertEquals(n, builder.size());
      assertEquals(Reference.root(leaves), builder.root(), "n=" + n);
    }
  }

  @Test
  void builder_rootDoesNotConsume_moreLeavesMayFollow() {
    List<byte[]> leaves = Reference.leaves(70);
    MerkleRootBuilder builder = new MerkleRootBuilder();
    for (int i = 0; i < leaves.size(); i++) {
      builder.add(leaves.get(i));
      assertEquals(Reference.root(leaves.subList(0, i + 1)), builder.root(), "after " + (i + 1));
      assertEquals(Reference.root(leaves.subList(0, i + 1)), builder.root(), "again " + (i + 1));
    }
    builder.reset();
    assertEquals(0, builder.size());
    assertEquals(Merkle.emptyRoot(), builder.root());
  }

  @Test
  void builder_badOffsets_rejected() {
    MerkleRootBuilder builder = new MerkleRootBuilder();
    assertThrows(IndexOutOfBoundsException.class, () -> builder.add(new byte[4], 2, 3));
    assertThrows(IndexOutOfBoundsException.class, () -> builder.add(new byte[4], -1, 1));
    assertEquals(0, builder.size());
  }

  @Test
  void treeRoot_randomSizes_equalsMerkleRoot() {
    Random random = new Random(6962);
    for (int trial = 0; trial < 40; trial++) {
      int n = random.nextInt(1500);
      List<byte[]> leaves = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        byte[] d = new byte[random.nextInt(40)];
        random.nextBytes(d);
        leaves.add(d);
      }
      MerkleTree tree = MerkleTree.ofLeaves(leaves);
      assertEquals(n, tree.size());
      assertEquals(Merkle.root(leaves), tree.root(), "n=" + n);
    }
  }
}
