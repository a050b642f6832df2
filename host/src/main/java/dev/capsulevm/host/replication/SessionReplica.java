package dev.capsulevm.host.replication;

import dev.capsulevm.host.sync.SyncDag;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.storage.StorageException;
import org.jspecify.annotations.Nullable;

/**
 * What a session needs of a replica beyond the DAG's edges: the records' bytes to send, and a place for
 * the records a peer sends, verified before they are stored. {@link ReplicaDag} is the store's.
 */
interface SessionReplica extends SyncDag, AutoCloseable {
  /** The record with its sub-records, stored or staged here, or null. */
  @Nullable RecordWithBody recordOrNull(Hash id);

  /** Takes a record the peer sent (already matched to the turn's entry); verifies what it can alone. */
  void offer(RecordWithBody record) throws InvalidPeerRecordException, StagingFullException, StorageException;

  /** Verifies and stores every staged record whose ancestors are all here; how many it stored. */
  int flush() throws InvalidPeerRecordException, StorageException;

  /** Records this replica has stored so far. */
  long committed();

  /** Records offered but not stored yet (their parents, or a signed descendant, have not arrived). */
  int staged();

  /** Drops what is still staged. */
  @Override
  void close();
}
