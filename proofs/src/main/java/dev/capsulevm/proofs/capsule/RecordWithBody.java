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
 */
public final class RecordWithBody {
  private final Record record;
  private final List<byte[]> payloads;
  /** Built on first use: validation needs its root, and a store keeps its levels to answer proofs. */
  private volatile @Nullable MerkleTree tree;

  public RecordWithBody(Record record, List<byte[]> payloads) {
    this.record = Objects.requireNonNull(record, "record");
    this.payloads = List.copyOf(payloads);
  }

  private RecordWithBody(Record record, List<byte[]> payloads, @Nullable MerkleTree tree) {
    this(record, payloads);
    this.tree = tree;
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
    List<byte[]> copies = new ArrayList<>(payloads.size());
    for (byte[] payload : payloads) {
      copies.add(payload.clone());
    }
    return new RecordWithBody(record, copies, tree);
  }

  @Override
  public String toString() {
    return "RecordWithBody[" + record + ", " + payloads.size() + " sub-records]";
  }
}
