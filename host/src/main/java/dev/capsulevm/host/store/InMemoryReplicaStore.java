package dev.capsulevm.host.store;

import dev.capsulevm.host.sync.InMemoryDag;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.host.sync.SyncDag;
import dev.capsulevm.host.sync.SyncRecord;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.storage.StoragePayment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A {@link ReplicaStore} over an {@link InMemoryCapsuleStorage}, for tests: each read answers from a
 * snapshot of that store, so it sees one commit or the next, never half of one. The digest and the
 * record ids come from an {@link InMemoryDag} built per call by walking the capsule from its heads
 * through the parents (the store holds parent-closed sets only), which costs O(records) a call.
 */
public final class InMemoryReplicaStore implements ReplicaStore {
  private final InMemoryCapsuleStorage storage;
  private volatile @Nullable BiConsumer<Hash, List<Hash>> recordsStored;

  public InMemoryReplicaStore(InMemoryCapsuleStorage storage) {
    this.storage = Objects.requireNonNull(storage, "storage");
  }

  @Override
  public Snapshot openSnapshot(Hash capsuleId) throws StorageException {
    return storage.openSnapshot(capsuleId);
  }

  /**
   * {@inheritDoc} Only batches of this store are seen (not commits made on the storage it wraps); every
   * record a committed batch put is reported, held before or not, which a listener must take.
   */
  @Override
  public void onRecordsStored(@Nullable BiConsumer<Hash, List<Hash>> listener) {
    this.recordsStored = listener;
  }

  @Override
  public Batch newBatch() {
    Batch batch = storage.newBatch();
    return new Batch() {
      private final Map<Hash, List<Hash>> put = new LinkedHashMap<>();

      @Override
      public void createCapsule(SignedMetadata metadata) throws StorageException {
        batch.createCapsule(metadata);
      }

      @Override
      public void putRecord(RecordWithBody record, @Nullable StoragePayment paymentOrNull) throws StorageException {
        batch.putRecord(record, paymentOrNull);
        put.computeIfAbsent(record.record().header().capsuleId(), k -> new ArrayList<>()).add(record.hash());
      }

      @Override
      public void dropPayloads(Hash capsuleId, Hash recordHash, Hash witness, @Nullable PublicKey creditAccountOrNull,
          Amount credit) throws StorageException {
        batch.dropPayloads(capsuleId, recordHash, witness, creditAccountOrNull, credit);
      }

      @Override
      public void settle(Settlement settlement) throws StorageException {
        batch.settle(settlement);
      }

      @Override
      public void commit() throws StorageException {
        batch.commit();
        BiConsumer<Hash, List<Hash>> listener = recordsStored;
        if (listener != null) {
          put.forEach(listener);
        }
      }

      @Override
      public void abort() {
        batch.abort();
      }
    };
  }

  @Override
  public boolean hasCapsule(Hash capsuleId) {
    return storage.hasCapsule(capsuleId);
  }

  @Override
  public @Nullable RecordHeader headerByHashOrNull(Hash recordHash) {
    return storage.headerByHashOrNull(recordHash);
  }

  @Override
  public @Nullable Record recordByHashOrNull(Hash recordHash) {
    return storage.recordByHashOrNull(recordHash);
  }

  @Override
  public @Nullable SignedMetadata metadataOrNull(Hash capsuleId) {
    return readOrNull(capsuleId, Snapshot::metadata);
  }

  @Override
  public List<Hash> capsuleIds() {
    return storage.capsuleIds();
  }

  @Override
  public long capsuleCount() {
    return storage.capsuleIds().size();
  }

  @Override
  public SetDigest digest(Hash capsuleId) throws StorageException {
    try (Snapshot snapshot = storage.openSnapshot(capsuleId)) {
      return dagOf(snapshot).digest();
    }
  }

  @Override
  public void forEachRecordId(Hash capsuleId, SyncDag.LimbConsumer action) {
    Objects.requireNonNull(action, "action");
    InMemoryDag dag = readOrNull(capsuleId, InMemoryReplicaStore::dagOf);
    if (dag != null) {
      dag.forEachIdLimbs(action);
    }
  }

  @Override
  public boolean holdsRecord(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(recordHash, "recordHash");
    return read(capsuleId, false, snapshot -> snapshot.recordOrNull(recordHash) != null);
  }

  @Override
  public @Nullable List<Hash> parentsOrNull(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(recordHash, "recordHash");
    return readOrNull(capsuleId, snapshot -> {
      RecordHeader header = snapshot.headerOrNull(recordHash);
      return header == null ? null : header.parents();
    });
  }

  @Override
  public List<Hash> heads(Hash capsuleId) {
    return read(capsuleId, List.of(), Snapshot::heads);
  }

  @Override
  public @Nullable RecordWithBody recordWithBodyOrNull(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(recordHash, "recordHash");
    return readOrNull(capsuleId, snapshot -> {
      Record record = snapshot.recordOrNull(recordHash);
      if (record == null) {
        return null;
      }
      Hash witness = snapshot.droppedWitnessOrNull(recordHash);
      if (witness != null) {
        return RecordWithBody.dropped(record,
            Objects.requireNonNull(snapshot.subRecordTreeOrNull(recordHash), "a held record has its tree"), witness);
      }
      return new RecordWithBody(record,
          Objects.requireNonNull(snapshot.subRecordsOrNull(recordHash), "a snapshot's record has its sub-records"));
    });
  }

  /** Nothing to release. */
  @Override
  public void close() {}

  /** {@code read} applied to a snapshot of the capsule, or {@code absent} when it is not stored. */
  private <T> T read(Hash capsuleId, T absent, Function<Snapshot, T> read) {
    try (Snapshot snapshot = storage.openSnapshot(capsuleId)) {
      return read.apply(snapshot);
    } catch (StorageException unknownCapsule) {
      return absent;
    }
  }

  /** {@code read} applied to a snapshot of the capsule, or null when it is not stored. */
  private <T> @Nullable T readOrNull(Hash capsuleId, Function<Snapshot, @Nullable T> read) {
    try (Snapshot snapshot = storage.openSnapshot(capsuleId)) {
      return read.apply(snapshot);
    } catch (StorageException unknownCapsule) {
      return null;
    }
  }

  /** The snapshot's records, found from its heads through their parents. */
  private static InMemoryDag dagOf(Snapshot snapshot) {
    InMemoryDag dag = new InMemoryDag(snapshot.capsuleId());
    ArrayDeque<Hash> work = new ArrayDeque<>(snapshot.heads());
    while (!work.isEmpty()) {
      Hash id = work.pop();
      RecordHeader header = snapshot.headerOrNull(id);
      if (header != null && dag.add(new SyncRecord(id, header.parents()))) {
        work.addAll(header.parents());
      }
    }
    return dag;
  }
}
