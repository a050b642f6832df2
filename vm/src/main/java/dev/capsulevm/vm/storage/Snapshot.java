package dev.capsulevm.vm.storage;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.merkle.LeafProof;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A consistent read view of one capsule as it was when the snapshot was opened: later commits are never
 * visible. As a {@link RecordSource} it serves the headers of this capsule's records only, so a proof
 * generator can walk it. Not thread-safe; close it when done. Every method but {@link #close()} throws
 * {@link IllegalStateException} after closing.
 */
public interface Snapshot extends RecordSource, AutoCloseable {
  Hash capsuleId();

  SignedMetadata metadata();

  /** The header of this capsule's record {@code recordHash}, or null. */
  @Override
  @Nullable RecordHeader headerOrNull(Hash recordHash);

  /** The record (header and signature, if any) {@code recordHash} of this capsule, or null. */
  @Nullable Record recordOrNull(Hash recordHash);

  /**
   * The sub-record payloads of record {@code recordHash} in leaf order (do not modify them), or null when
   * the record is not held or its payloads were dropped ({@link #droppedWitnessOrNull}).
   */
  @Nullable List<byte[]> subRecordsOrNull(Hash recordHash);

  /**
   * Sub-record {@code index} of record {@code recordHash}, or null when the record is not held, has
   * no such sub-record, or its payloads were dropped.
   */
  default byte @Nullable [] subRecordOrNull(Hash recordHash, long index) {
    List<byte[]> all = subRecordsOrNull(recordHash);
    if (all == null || index < 0 || index >= all.size()) {
      return null;
    }
    return all.get((int) index).clone();
  }

  /**
   * The Merkle tree over record {@code recordHash}'s sub-records, or null when it is not held. Stores
   * keep it from the append, so a sub-record proof does not rehash every payload of the record, and keep
   * it when the payloads are dropped, so an inclusion path of a dropped sub-record's leaf hash remains.
   */
  default @Nullable MerkleTree subRecordTreeOrNull(Hash recordHash) {
    List<byte[]> all = subRecordsOrNull(recordHash);
    return all == null ? null : MerkleTree.ofLeaves(all);
  }

  /**
   * Sub-record {@code index}'s leaf in the tree over record {@code recordHash}'s sub-records (the root,
   * the leaf's hash, its inclusion proof), or null when the record is not held or has no such sub-record:
   * what a proof of one sub-record needs, which a store may read without the whole tree.
   */
  default @Nullable LeafProof subRecordLeafOrNull(Hash recordHash, long index) {
    MerkleTree tree = subRecordTreeOrNull(recordHash);
    return tree == null || index < 0 || index >= tree.size() ? null : tree.leafProof(index);
  }

  /** The hashes of this capsule's records at {@code height}, sorted (several where there is a fork). */
  List<Hash> recordsAtHeight(long height);

  /** The current heads, sorted: records no other record names as parent. Empty before the first record. */
  List<Hash> heads();

  /**
   * The hashes of this capsule's membership records (version-2 and 3 records of kind
   * {@link dev.capsulevm.proofs.capsule.RecordKind#MEMBERSHIP}), sorted; empty for a version-1 capsule.
   * Stores keep them in an index written with each record, so the executor can resolve the capsule's
   * current members without walking its records. Their sub-records (the change and, in a private
   * capsule, the keystore block) are never dropped, so {@link #subRecordOrNull} always has them.
   */
  List<Hash> membershipRecords();

  /**
   * When the payloads of record {@code recordHash} were dropped under the capsule's retention policy,
   * the witness: the record of the capsule whose height or timestamp let them go
   * (docs/PROTOCOL.md, "Retention"). Null when the record is not held or holds its payloads.
   */
  @Nullable Hash droppedWitnessOrNull(Hash recordHash);

  /**
   * What the storage of record {@code recordHash} was paid with, when a renter's program appended it
   * here and its payloads are still held; null otherwise (replicated records, dropped ones).
   */
  @Nullable StoragePayment paymentOrNull(Hash recordHash);

  @Override
  void close();
}
