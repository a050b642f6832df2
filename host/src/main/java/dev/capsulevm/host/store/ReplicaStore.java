package dev.capsulevm.host.store;

import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.host.sync.SyncDag;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.StorageException;
import java.util.List;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * The host's capsule storage as replication and the Admin service use it: the VM's seam (replication
 * validates against a snapshot and commits through a batch) plus reads of a capsule by id that need no
 * snapshot, each answered from one consistent state of its own. {@link LmdbCapsuleStorage} serves the
 * daemon; {@link InMemoryReplicaStore} serves tests. Thread-safe.
 */
public interface ReplicaStore extends CapsuleStorage, AutoCloseable {
  /** The capsule's signed metadata, or null when it is not stored. */
  @Nullable SignedMetadata metadataOrNull(Hash capsuleId);

  /** The ids of the stored capsules, sorted. */
  List<Hash> capsuleIds();

  /** How many capsules are stored. */
  long capsuleCount();

  /**
   * The set digest of the capsule's records (the sum of their hashes and their count).
   *
   * @throws StorageException UNKNOWN_CAPSULE when the capsule is not stored
   */
  SetDigest digest(Hash capsuleId) throws StorageException;

  /**
   * Calls {@code action} with the hash of every record of the capsule, as limbs (none when it is not
   * stored). The action may run inside a read transaction of the store, so it must be quick and must not
   * wait for another thread's read or write of this store.
   */
  void forEachRecordId(Hash capsuleId, SyncDag.LimbConsumer action);

  /** Whether capsule {@code capsuleId} holds record {@code recordHash}. */
  boolean holdsRecord(Hash capsuleId, Hash recordHash);

  /** The parents of record {@code recordHash} in header order, or null when {@code capsuleId} does not hold it. */
  @Nullable List<Hash> parentsOrNull(Hash capsuleId, Hash recordHash);

  /** The capsule's heads, sorted; empty before its first record or when it is not stored. */
  List<Hash> heads(Hash capsuleId);

  /**
   * Record {@code recordHash} of capsule {@code capsuleId} with its signature and sub-records (what a
   * peer is sent), or null when the capsule does not hold it.
   */
  @Nullable RecordWithBody recordWithBodyOrNull(Hash capsuleId, Hash recordHash);

  /**
   * After each commit that stores new records, calls {@code listener} once per capsule with the ids of
   * the records that commit stored, on the committing thread and after the commit is durable (so a read
   * that starts after the call sees them); replaces any listener set before, null removes it. Replication
   * keeps each capsule's coded symbols with it ({@code host.replication.CodedSets}); the listener must be
   * quick and must not commit.
   */
  void onRecordsStored(@Nullable BiConsumer<Hash, List<Hash>> listener);

  /** Releases the store; only its owner (the daemon, a test) closes it, never replication. */
  @Override
  void close();
}
