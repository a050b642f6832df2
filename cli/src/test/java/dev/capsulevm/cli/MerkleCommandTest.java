package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.run;
import static dev.capsulevm.cli.CliTestSupport.runWithStdin;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.merkle.ConsistencyProof;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class MerkleCommandTest {
  private static final String EIGHT_LEAVES =
      "\n00\n10\n2021\n3031\n40414243\n5051525354555657\n606162636465666768696a6b6c6d6e6f\n";
  private static final String ROOT_OF_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
  private static final String EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  private static final List<byte[]> LEAVES = leaves(11);
  private static final MerkleTree TREE = MerkleTree.ofLeaves(LEAVES);

  private static List<byte[]> leaves(int n) {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new byte[] {(byte) i, (byte) (i * 7), 0x55});
    }
    return out;
  }

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  private static String joined(List<Hash> path) {
    return path.stream().map(Hash::toHex).collect(Collectors.joining(","));
  }

  private static Result inclusion(int index, String... leafArgs) {
    InclusionProof proof = TREE.inclusionProof(index);
    List<String> args = new ArrayList<>(List.of(
        "merkle", "verify-inclusion", "--index", Integer.toString(index), "--size", "11",
        "--root", TREE.root().toHex(), "--proof", joined(proof.path())));
    args.addAll(List.of(leafArgs));
    return run(args.toArray(String[]::new));
  }

  @Test
  void root_eightVectorLeaves_printsKnownRoot() {
    Result r = runWithStdin(EIGHT_LEAVES, "merkle", "root");
    assertEquals(0, r.exitCode(), r.err());
    assertEquals(ROOT_OF_8, r.line());
  }

  @Test
  void root_uppercaseHexAndCrLf_accepted() {
    Result r = runWithStdin(EIGHT_LEAVES.toUpperCase().replace("\n", "\r\n"), "merkle", "root");
    assertEquals(0, r.exitCode(), r.err());
    assertEquals(ROOT_OF_8, r.line());
  }

  @Test
  void root_noLines_printsEmptyRoot() {
    Result r = runWithStdin("", "merkle", "root");
    assertEquals(0, r.exitCode());
    assertEquals(EMPTY_ROOT, r.line());
  }

  @Test
  void root_emptyLine_isZeroByteLeaf() {
    Result r = runWithStdin("\n", "merkle", "root");
    assertEquals(0, r.exitCode());
    assertEquals(Merkle.leafHash(new byte[0]).toHex(), r.line());
  }

  @Test
  void root_badHex_exits2NamingLine() {
    Result r = runWithStdin("00\n0g\n", "merkle", "root");
    assertEquals(2, r.exitCode());
    assertTrue(r.err().contains("line 2"), r.err());
    Result odd = runWithStdin("00\n11\n123\n", "merkle", "root");
    assertEquals(2, odd.exitCode());
    assertTrue(odd.err().contains("line 3"), odd.err());
  }

  @Test
  void verifyInclusion_validWithLeafData_exits0() {
    for (int i = 0; i < 11; i++) {
      Result r = inclusion(i, "--leaf", hex(LEAVES.get(i)));
      assertEquals(0, r.exitCode(), r.out() + r.err());
      assertEquals("valid", r.line());
    }
  }

  @Test
  void verifyInclusion_validWithLeafHash_exits0() {
    Result r = inclusion(4, "--leaf-hash", TREE.leafHash(4).toHex().toUpperCase());
    assertEquals(0, r.exitCode(), r.out() + r.err());
    assertEquals("valid", r.line());
  }

  @Test
  void verifyInclusion_wrongLeaf_exits1WithReason() {
    Result r = inclusion(4, "--leaf", hex(LEAVES.get(5)));
    assertEquals(1, r.exitCode());
    assertTrue(r.line().startsWith("invalid: "), r.out());
    assertTrue(r.line().contains("computed root"), r.out());
  }

  @Test
  void verifyInclusion_indexAtSize_exits1() {
    Result r = run("merkle", "verify-inclusion", "--index", "11", "--size", "11",
        "--root", TREE.root().toHex(), "--leaf", "00", "--proof", "");
    assertEquals(1, r.exitCode());
    assertTrue(r.line().startsWith("invalid: ") && r.line().contains(">= tree size"), r.out());
  }

  @Test
  void verifyInclusion_singleLeafEmptyProof_exits0() {
    Result r = run("merkle", "verify-inclusion", "--index", "0", "--size", "1",
        "--root", Merkle.leafHash(new byte[] {1}).toHex(), "--leaf", "01", "--proof", "");
    assertEquals(0, r.exitCode(), r.err());
    assertEquals("valid", r.line());
  }

  @Test
  void verifyInclusion_malformedArguments_exit2() {
    String root = TREE.root().toHex();
    String proof = joined(TREE.inclusionProof(0).path());
    String[][] cases = {
      {"--index", "0", "--size", "11", "--root", root, "--leaf", "0", "--proof", proof},
      {"--index", "0", "--size", "11", "--root", root, "--leaf", "xx", "--proof", proof},
      {"--index", "0", "--size", "11", "--root", root.substring(2), "--leaf", "00", "--proof", proof},
      {"--index", "0", "--size", "11", "--root", root, "--leaf-hash", "00", "--proof", proof},
      {"--index", "0", "--size", "11", "--root", root, "--leaf", "00", "--leaf-hash", root, "--proof", proof},
      {"--index", "0", "--size", "11", "--root", root, "--proof", proof},
      {"--index", "-1", "--size", "11", "--root", root, "--leaf", "00", "--proof", proof},
      {"--index", "0", "--size", "-11", "--root", root, "--leaf", "00", "--proof", proof},
      {"--index", "zero", "--size", "11", "--root", root, "--leaf", "00", "--proof", proof},
      {"--index", "0", "--size", "11", "--root", root, "--leaf", "00", "--proof", proof + ",00"},
      {"--index", "0", "--size", "11", "--root", root, "--leaf", "00", "--proof", proof + ","},
      {"--index", "0", "--size", "11", "--root", root, "--leaf", "00"},
      {"--index", "0", "--size", "11", "--root", root, "--leaf", "00", "--proof", proof, "--bogus"},
    };
    for (String[] c : cases) {
      List<String> args = new ArrayList<>(List.of("merkle", "verify-inclusion"));
      args.addAll(List.of(c));
      Result r = run(args.toArray(String[]::new));
      assertEquals(2, r.exitCode(), () -> String.join(" ", c) + " -> " + r.out() + r.err());
      assertTrue(r.err().startsWith("error: "), r.err());
    }
  }

  @Test
  void verifyConsistency_everyOldSize_exits0() {
    for (int m = 1; m <= 11; m++) {
      ConsistencyProof proof = TREE.consistencyProof(m);
      Result r = run("merkle", "verify-consistency", "--old-size", Integer.toString(m), "--new-size", "11",
          "--old-root", Merkle.root(LEAVES.subList(0, m)).toHex(), "--new-root", TREE.root().toHex(),
          "--proof", joined(proof.path()));
      assertEquals(0, r.exitCode(), r.out() + r.err());
      assertEquals("valid", r.line());
    }
  }

  @Test
  void verifyConsistency_wrongOldRoot_exits1() {
    ConsistencyProof proof = TREE.consistencyProof(6);
    Result r = run("merkle", "verify-consistency", "--old-size", "6", "--new-size", "11",
        "--old-root", Merkle.root(LEAVES.subList(0, 5)).toHex(), "--new-root", TREE.root().toHex(),
        "--proof", joined(proof.path()));
    assertEquals(1, r.exitCode());
    assertTrue(r.line().startsWith("invalid: "), r.out());
  }

  @Test
  void verifyConsistency_oldSizeZeroOrEmptyProof_exits1() {
    Result zero = run("merkle", "verify-consistency", "--old-size", "0", "--new-size", "11",
        "--old-root", EMPTY_ROOT, "--new-root", TREE.root().toHex(), "--proof", "");
    assertEquals(1, zero.exitCode());
    Result empty = run("merkle", "verify-consistency", "--old-size", "3", "--new-size", "11",
        "--old-root", Merkle.root(LEAVES.subList(0, 3)).toHex(), "--new-root", TREE.root().toHex(), "--proof", "");
    assertEquals(1, empty.exitCode());
    Result same = run("merkle", "verify-consistency", "--old-size", "11", "--new-size", "11",
        "--old-root", TREE.root().toHex(), "--new-root", TREE.root().toHex(), "--proof", "");
    assertEquals(0, same.exitCode());
  }

  @Test
  void verifyConsistency_malformedArguments_exit2() {
    String root = TREE.root().toHex();
    String[][] cases = {
      {"--old-size", "-1", "--new-size", "11", "--old-root", root, "--new-root", root, "--proof", ""},
      {"--old-size", "1", "--new-size", "-11", "--old-root", root, "--new-root", root, "--proof", ""},
      {"--old-size", "1", "--new-size", "11", "--old-root", "abc", "--new-root", root, "--proof", ""},
      {"--old-size", "1", "--new-size", "11", "--old-root", root, "--new-root", root + "00", "--proof", ""},
      {"--old-size", "1", "--new-size", "11", "--old-root", root, "--new-root", root, "--proof", "q"},
      {"--old-size", "1", "--new-size", "11", "--old-root", root, "--new-root", root},
    };
    for (String[] c : cases) {
      List<String> args = new ArrayList<>(List.of("merkle", "verify-consistency"));
      args.addAll(List.of(c));
      Result r = run(args.toArray(String[]::new));
      assertEquals(2, r.exitCode(), () -> String.join(" ", c) + " -> " + r.out() + r.err());
    }
  }

  @Test
  void merkle_withoutSubcommand_exits2() {
    assertEquals(2, run("merkle").exitCode());
    assertEquals(2, run("merkle", "nonsense").exitCode());
  }
}
