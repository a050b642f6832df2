package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.merkle.ConsistencyProof;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleRootBuilder;
import dev.capsulevm.proofs.merkle.MerkleVerifier;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code capsulevm merkle}: RFC 9162 Merkle tree roots and proof verification. */
@Command(
    name = "merkle",
    mixinStandardHelpOptions = true,
    description = "RFC 9162 Merkle tree hashes and proofs.",
    subcommands = {
      MerkleCommand.Root.class,
      MerkleCommand.VerifyInclusion.class,
      MerkleCommand.VerifyConsistency.class
    })
final class MerkleCommand {
  /** Exit code of a proof that does not hold. */
  static final int EXIT_INVALID = 1;

  /** {@code merkle root}: the root of the leaves on stdin, one hex string per line. */
  @Command(
      name = "root",
      mixinStandardHelpOptions = true,
      description = {
        "Reads leaf data from stdin, one hex string per line (an empty line is an empty leaf),",
        "and prints the RFC 9162 root in lowercase hex. No lines: SHA-256 of the empty string."
      })
  static final class Root implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      MerkleRootBuilder builder = new MerkleRootBuilder();
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      long lineNumber = 0;
      try {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          lineNumber++;
          builder.add(Args.hex(spec, "line " + lineNumber, line.strip()));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("reading stdin failed", e);
      }
      System.out.println(builder.root().toHex());
      return 0;
    }
  }

  /** The leaf of an inclusion proof: exactly one of its data or its leaf hash. */
  static final class Leaf {
    @Option(names = "--leaf", paramLabel = "HEX", required = true, description = "The leaf data.")
    @Nullable String data;

    @Option(
        names = "--leaf-hash",
        paramLabel = "HEX",
        required = true,
        description = "The RFC 9162 leaf hash SHA-256(0x00 || data).")
    @Nullable String hash;
  }

  /** {@code merkle verify-inclusion}. */
  @Command(
      name = "verify-inclusion",
      mixinStandardHelpOptions = true,
      description = {
        "Checks an RFC 9162 inclusion proof. Prints 'valid' and exits 0 when it holds,",
        "prints 'invalid: REASON' and exits 1 when it does not; exits 2 on malformed arguments."
      })
  static final class VerifyInclusion implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--index", required = true, description = "The leaf index, counting from 0.")
    long index;

    @Option(names = "--size", required = true, description = "The number of leaves in the tree.")
    long size;

    @Option(names = "--root", required = true, paramLabel = "HEX", description = "The tree's root hash.")
    String root;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Leaf leaf;

    @Option(
        names = "--proof",
        required = true,
        paramLabel = "HEX,HEX,...",
        description = "The path hashes, leaf sibling first; \"\" for none.")
    String proof;

    @Override
    public Integer call() {
      Args.nonNegative(spec, "--index", index);
      Args.nonNegative(spec, "--size", size);
      Hash rootHash = Args.hash(spec, "--root", root);
      Hash leafHash =
          leaf.hash != null
              ? Args.hash(spec, "--leaf-hash", leaf.hash)
              : Merkle.leafHash(Args.hex(spec, "--leaf", Objects.requireNonNull(leaf.data)));
      List<Hash> path = Args.hashes(spec, "--proof", proof);
      try {
        MerkleVerifier.verifyInclusion(leafHash, new InclusionProof(index, size, path), rootHash);
      } catch (VerificationException e) {
        System.out.println("invalid: " + e.getMessage());
        return EXIT_INVALID;
      }
      System.out.println("valid");
      return 0;
    }
  }

  /** {@code merkle verify-consistency}. */
  @Command(
      name = "verify-consistency",
      mixinStandardHelpOptions = true,
      description = {
        "Checks an RFC 9162 consistency proof. Prints 'valid' and exits 0 when it holds,",
        "prints 'invalid: REASON' and exits 1 when it does not; exits 2 on malformed arguments."
      })
  static final class VerifyConsistency implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--old-size", required = true, description = "The old tree's number of leaves.")
    long oldSize;

    @Option(names = "--new-size", required = true, description = "The new tree's number of leaves.")
    long newSize;

    @Option(names = "--old-root", required = true, paramLabel = "HEX", description = "The old root hash.")
    String oldRoot;

    @Option(names = "--new-root", required = true, paramLabel = "HEX", description = "The new root hash.")
    String newRoot;

    @Option(
        names = "--proof",
        required = true,
        paramLabel = "HEX,HEX,...",
        description = "The proof hashes in RFC 9162 order; \"\" for none.")
    String proof;

    @Override
    public Integer call() {
      Args.nonNegative(spec, "--old-size", oldSize);
      Args.nonNegative(spec, "--new-size", newSize);
      Hash oldHash = Args.hash(spec, "--old-root", oldRoot);
      Hash newHash = Args.hash(spec, "--new-root", newRoot);
      List<Hash> path = Args.hashes(spec, "--proof", proof);
      try {
        MerkleVerifier.verifyConsistency(oldHash, newHash, new ConsistencyProof(oldSize, newSize, path));
      } catch (VerificationException e) {
        System.out.println("invalid: " + e.getMessage());
        return EXIT_INVALID;
      }
      System.out.println("valid");
      return 0;
    }
  }
}
