package dev.capsulevm.host.store;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.merkle.EncodedLevels;
import dev.capsulevm.proofs.merkle.LeafProof;
import dev.capsulevm.proofs.merkle.MerkleTree;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StoragePayment;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.lmdbjava.Txn;

/**
 * One read transaction over one capsule. Values are read in place from LMDB's memory and only what is
 * returned is copied out (LMDB's memory is valid only inside the transaction, and callers keep what they
 * get). Records this snapshot has parsed are kept for its lifetime (at most {@link #CACHED_RECORDS}):
 * what a snapshot sees never changes, and a program reads the same headers many times (to price an
 * instruction, to resolve its target, and along every proof path), each parse hashing the header.
 */
final class LmdbSnapshot implements Snapshot {
  /** The most parsed records one snapshot keeps. */
  private static final int CACHED_RECORDS = 1024;
  /** The most sub-record trees one snapshot keeps (a program often reads many sub-records of one record). */
  private static final int CACHED_TREES = 16;

  private final LmdbEnvironment environment;
  private final CapsuleDatabases capsules;
  private final Hash capsuleId;
  private final Txn<ByteBuffer> txn;
  private final Map<Hash, Record> parsed = new HashMap<>();
  private final Map<Hash, MerkleTree> keptTrees = new HashMap<>();
  /** Kept tree levels read in place, valid until the transaction ends (close clears them first). */
  private final Map<Hash, EncodedLevels> keptLevels = new HashMap<>();
  private boolean closed;

  private LmdbSnapshot(LmdbEnvironment environment, CapsuleDatabases capsules, Hash capsuleId, Txn<ByteBuffer> txn) {
    this.environment = environment;
    this.capsules = capsules;
    this.capsuleId = capsuleId;
    this.txn = txn;
  }

  /**
   * A snapshot of capsule {@code capsuleId}: a read transaction the environment counts until it closes.
   *
   * @throws StorageException UNKNOWN_CAPSULE when it is not stored
   */
  static LmdbSnapshot open(LmdbEnvironment environment, CapsuleDatabases capsules, Hash capsuleId)
      throws StorageException {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Txn<ByteBuffer> txn = environment.beginSnapshot(t -> {
      if (!capsules.hasCapsule(t, capsuleId)) {
        throw new StorageException(Reason.UNKNOWN_CAPSULE, "no capsule " + capsuleId.toHex());
      }
    });
    return new LmdbSnapshot(environment, capsules, capsuleId, txn);
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("snapshot of " + capsuleId.toHex() + " is closed");
    }
  }

  @Override
  public Hash capsuleId() {
    requireOpen();
    return capsuleId;
  }

  @Override
  public SignedMetadata metadata() {
    requireOpen();
    return capsules.metadataOf(txn, capsuleId);
  }

  @Override
  public @Nullable RecordHeader headerOrNull(Hash recordHash) {
    Record record = recordOrNull(recordHash);
    return record == null ? null : record.header();
  }

  @Override
  public @Nullable Record recordOrNull(Hash recordHash) {
    Objects.requireNonNull(recordHash, "recordHash");
    requireOpen();
    Record cached = parsed.get(recordHash);
    if (cached != null) {
      return cached;
    }
    if (!capsules.holds(txn, capsuleId, recordHash)) {
      return null;
    }
    Record record = capsules.heldRecord(txn, recordHash);
    if (parsed.size() < CACHED_RECORDS) {
      parsed.put(recordHash, record);
    }
    return record;
  }

  @Override
  public @Nullable List<byte[]> subRecordsOrNull(Hash recordHash) {
    Record record = recordOrNull(recordHash);
    return record == null || capsules.droppedWitnessOrNull(txn, recordHash) != null ? null
        : capsules.bodies(txn, record);
  }

  @Override
  public byte @Nullable [] subRecordOrNull(Hash recordHash, long index) {
    Record record = recordOrNull(recordHash);
    if (record == null || index < 0 || index >= record.header().subRecordCount()
        || capsules.droppedWitnessOrNull(txn, recordHash) != null) {
      return null;
    }
    return capsules.body(txn, recordHash, index);
  }

  @Override
  public @Nullable Hash droppedWitnessOrNull(Hash recordHash) {
    return recordOrNull(recordHash) == null ? null : capsules.droppedWitnessOrNull(txn, recordHash);
  }

  @Override
  public @Nullable StoragePayment paymentOrNull(Hash recordHash) {
    return recordOrNull(recordHash) == null ? null : capsules.paymentOrNull(txn, recordHash);
  }

  @Override
  public @Nullable MerkleTree subRecordTreeOrNull(Hash recordHash) {
    requireOpen();
    MerkleTree cached = keptTrees.get(recordHash);
    if (cached != null) {
      return cached;
    }
    Record record = recordOrNull(recordHash);
    if (record == null) {
      return null;
    }
    MerkleTree tree = capsules.tree(txn, record);
    if (keptTrees.size() < CACHED_TREES) {
      keptTrees.put(recordHash, tree);
    }
    return tree;
  }

  /**
   * Reads the O(log n) kept nodes of the leaf in place, not a copy of the whole tree ({@link
   * CapsuleDatabases#keptLevelsOrNull}, kept for the snapshot's later reads of the same record).
   */
  @Override
  public @Nullable LeafProof subRecordLeafOrNull(Hash recordHash, long index) {
    requireOpen();
    EncodedLevels levels = keptLevels.get(recordHash);
    if (levels == null) {
      Record record = recordOrNull(recordHash);
      if (record == null) {
        return null;
      }
      levels = capsules.keptLevelsOrNull(txn, record);
      if (levels == null) {
        return Snapshot.super.subRecordLeafOrNull(recordHash, index); // stored before trees were kept
      }
      if (keptLevels.size() < CACHED_TREES) {
        keptLevels.put(recordHash, levels);
      }
    }
    return index < 0 || index >= levels.size() ? null : levels.leafProof(index);
  }

  @Override
  public List<Hash> recordsAtHeight(long height) {
    requireOpen();
    return capsules.recordsAtHeight(txn, capsuleId, height);
  }

  @Override
  public List<Hash> heads() {
    requireOpen();
    return capsules.heads(txn, capsuleId);
  }

  @Override
  public List<Hash> membershipRecords() {
    requireOpen();
    return capsules.membershipRecords(txn, capsuleId);
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    parsed.clear();
    keptLevels.clear();
    environment.endSnapshot(txn);
  }
}
