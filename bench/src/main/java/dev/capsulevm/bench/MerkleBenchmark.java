package dev.capsulevm.bench;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleRootBuilder;
import dev.capsulevm.proofs.merkle.MerkleTree;
import dev.capsulevm.proofs.merkle.MerkleVerifier;
import java.security.DigestException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * RFC 9162 Merkle hashing costs. {@link #sha256Baseline2047} is the floor for the root benchmarks:
 * the 2,047 bare SHA-256 digests (1,024 tagged 65-byte leaves and 1,023 65-byte nodes) that any
 * root of 1,024 leaves of 64 bytes must compute, over the very same inputs, with inputs prepared in
 * advance and nothing else done.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Thread)
public class MerkleBenchmark {
  static final int LEAVES = 1024;
  static final int LEAF_LENGTH = 64;

  private List<byte[]> leafData;
  private byte[] leaf;
  private byte[] left;
  private byte[] right;
  private byte[] out;
  private MessageDigest md;
  private MerkleRootBuilder reusedBuilder;

  /** The 2,047 exact 65-byte inputs of the root's digests: 1,024 leaves then 1,023 nodes. */
  private byte[][] digestInputs;

  private MerkleTree tree;
  private Hash[] proofLeaves;
  private InclusionProof[] proofs;
  private int next;

  @Setup
  public void setup() {
    SplittableRandom random = new SplittableRandom(9162);
    leafData = new ArrayList<>(LEAVES);
    for (int i = 0; i < LEAVES; i++) {
      byte[] d = new byte[LEAF_LENGTH];
      random.nextBytes(d);
      leafData.add(d);
    }
    leaf = leafData.get(0);
    left = Merkle.leafHash(leafData.get(0)).toByteArray();
    right = Merkle.leafHash(leafData.get(1)).toByteArray();
    out = new byte[Hash.LENGTH];
    md = Sha256.newDigest();
    reusedBuilder = new MerkleRootBuilder();

    // The inputs of every digest of the tree, level by level (1,024 is a power of two).
    digestInputs = new byte[2 * LEAVES - 1][];
    byte[][] level = new byte[LEAVES][];
    int k = 0;
    for (int i = 0; i < LEAVES; i++) {
      byte[] input = new byte[1 + LEAF_LENGTH];
      input[0] = Domain.MERKLE_LEAF.tag();
      System.arraycopy(leafData.get(i), 0, input, 1, LEAF_LENGTH);
      digestInputs[k++] = input;
      level[i] = Sha256.newDigest().digest(input);
    }
    while (level.length > 1) {
      byte[][] up = new byte[level.length / 2][];
      for (int j = 0; j < up.length; j++) {
        byte[] input = new byte[1 + 2 * Hash.LENGTH];
        input[0] = Domain.MERKLE_NODE.tag();
        System.arraycopy(level[2 * j], 0, input, 1, Hash.LENGTH);
        System.arraycopy(level[2 * j + 1], 0, input, 1 + Hash.LENGTH, Hash.LENGTH);
        digestInputs[k++] = input;
        up[j] = Sha256.newDigest().digest(input);
      }
      level = up;
    }
    if (k != 2 * LEAVES - 1) {
      throw new IllegalStateException("expected 2047 digests, prepared " + k);
    }

    tree = MerkleTree.ofLeaves(leafData);
    if (!tree.root().equals(Hash.copyOf(level[0])) || !tree.root().equals(Merkle.root(leafData))) {
      throw new IllegalStateException("the baseline's inputs are not the root's inputs");
    }
    proofs = new InclusionProof[64];
    proofLeaves = new Hash[proofs.length];
    for (int i = 0; i < proofs.length; i++) {
      int index = (i * 337) % LEAVES;
      proofs[i] = tree.inclusionProof(index);
      proofLeaves[i] = tree.leafHash(index);
    }
  }

  /** {@code Merkle.leafHash} of 64 bytes: one digest of 65 bytes plus the {@link Hash} result. */
  @Benchmark
  public Hash leafHash64() {
    return Merkle.leafHash(leaf);
  }

  /** The leaf hash of 64 bytes written into a caller buffer, no allocation. */
  @Benchmark
  public byte[] leafHash64Into() {
    Sha256.hashTagged(md, Domain.MERKLE_LEAF.tag(), leaf, 0, LEAF_LENGTH, out, 0);
    return out;
  }

  /** An interior node hash written into a caller buffer, no allocation. */
  @Benchmark
  public byte[] nodeHash() {
    Sha256.hashPair(md, Domain.MERKLE_NODE.tag(), left, 0, right, 0, out, 0);
    return out;
  }

  /** The floor: 2,047 bare SHA-256 digests of the root's exact 65-byte inputs. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public byte[] sha256Baseline2047() throws DigestException {
    MessageDigest d = md;
    byte[] o = out;
    for (byte[] input : digestInputs) {
      d.update(input, 0, input.length);
      d.digest(o, 0, Hash.LENGTH);
    }
    return o;
  }

  /** Root of 1,024 leaves of 64 bytes with a new {@link MerkleRootBuilder} per root. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Hash rootBuilder1024() {
    MerkleRootBuilder builder = new MerkleRootBuilder();
    for (int i = 0; i < LEAVES; i++) {
      builder.add(leafData.get(i));
    }
    return builder.root();
  }

  /** Root of 1,024 leaves with one builder reset between roots. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Hash rootBuilderReused1024() {
    MerkleRootBuilder builder = reusedBuilder;
    builder.reset();
    for (int i = 0; i < LEAVES; i++) {
      builder.add(leafData.get(i));
    }
    return builder.root();
  }

  /** Root of 1,024 leaves through {@link Merkle#root}. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Hash merkleRoot1024() {
    return Merkle.root(leafData);
  }

  /** Verifying an inclusion proof (10 path hashes) in the 1,024-leaf tree. */
  @Benchmark
  public int verifyInclusion1024() throws VerificationException {
    int i = next++ & (proofs.length - 1);
    MerkleVerifier.verifyInclusion(proofLeaves[i], proofs[i], tree.root());
    return i;
  }
}
