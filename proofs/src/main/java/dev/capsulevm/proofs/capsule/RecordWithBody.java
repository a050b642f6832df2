package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A record with its sub-record payloads, as an append carries it. The payload arrays are shared, not
 * copied (records can hold thousands): whoever builds one must not change them afterwards.
 *
 * <p>Or, {@linkplain #dropped dropped}: a data record whose payloads a host dropped under its capsule's
 * retention policy, as replication carries it: the header, the signature, the sub-records' leaf hashes
 * (from which {@link #tree()} is built, so the header's sub-record root can still be checked) and the
 * witness, the record of the capsule whose height or timestamp let the payloads go (docs/PROTOCOL.md,
 * "Retention"). It has no payloads.
 */
public final class RecordWithBody {
  private final Record record;
  private final List<byte[]> payloads;
  private final @Nullable Hash witnessOrNull;
  /** Built on first use: validation needs its root, and a store keeps its levels to answer proofs. */
  private volatile @Nullable MerkleTree tree;

  public RecordWithBody(Record record, List<byte[]> payloads) {
    this.record = Objects.requireNonNull(record, "record");
    this.payloads = List.copyOf(payloads);
    this.witnessOrNull = null;
  }

  private RecordWithBody(Record record, List<byte[]> payloads, @Nullable MerkleTree tree) {
    this(record, payloads);
    this.tree = tree;
  }

  private RecordWithBody(Record record, MerkleTree leaves, Hash witness) {
    this.record = Objects.requireNonNull(record, "record");
    this.payloads = List.of();
    this.witnessOrNull = Objects.requireNonNull(witness, "witness");
    this.tree = Objects.requireNonNull(leaves, "leaves");
  }

  /**
   * A record whose payloads were dropped under its capsule's retention policy: its leaf hashes
   * ({@code H(0x00 || payload)} per sub-record, in leaf order) stand for the payloads, and
   * {@code witness} names the record that let them go.
   */
  public static RecordWithBody dropped(Record record, List<Hash> leafHashes, Hash witness) {
    return new RecordWithBody(record, MerkleTree.ofLeafHashes(leafHashes), witness);
  }

  /** {@link #dropped(Record, List, Hash)} from the record's kept Merkle tree. */
  public static RecordWithBody dropped(Record record, MerkleTree tree, Hash witness) {
    return new RecordWithBody(record, tree, witness);
  }

  /** Whether the payloads were dropped under the retention policy (then {@link #payloads()} is empty). */
  public boolean isDropped() {
    return witnessOrNull != null;
  }

  /** The record whose height or timestamp let the payloads go, or null when they are all here. */
  public @Nullable Hash witnessOrNull() {
    return witnessOrNull;
  }

  /** How many sub-records the body stands for: its payloads, or a dropped record's leaf hashes. */
  public long subRecordCount() {
    return isDropped() ? tree().size() : payloads.size();
  }

  public Record record() {
    return record;
  }

  public Hash hash() {
    return record.hash();
  }

  /** The sub-record payloads in leaf order; do not modify the arrays. */
  public List<byte[]> payloads() {
    return payloads;
  }

  /** The Merkle tree over the payloads, built once. */
  public MerkleTree tree() {
    MerkleTree built = tree;
    if (built == null) {
      built = MerkleTree.ofLeaves(payloads);
      tree = built;
    }
    return built;
  }

  /**
   * The same record with copies of its payloads, so the caller may reuse its arrays; the tree (if built)
   * is carried over rather than rebuilt.
   */
  public RecordWithBody withCopiedPayloads() {
    if (isDropped()) {
      return this;
    }
    List<byte[]> copies = new ArrayList<>(payloads.size());
    for (byte[] payload : payloads) {
      copies.add(payload.clone());
    }
    return new RecordWithBody(record, copies, tree);
  }

  @Override
  public String toString() {
    return "RecordWithBody[" + record + ", " + subRecordCount() + " sub-records"
        + (isDropped() ? ", dropped under witness " + witnessOrNull : "") + "]";
  }
}
