package dev.capsulevm.vm.storage;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.capsule.SignedMetadata;

/**
 * Writes staged for one atomic commit: after {@link #commit()} every staged write is visible to new
 * snapshots, or (when it is refused, or the batch is aborted) none is. Records must already be validated
 * (signatures, heights, skip pointers); storage checks only that they fit: the capsule exists and the
 * parents are held, counting writes staged earlier in the same batch. Not thread-safe.
 */
public interface Batch extends AutoCloseable {
  /** Stages the creation of the capsule {@code metadata} describes. */
  void createCapsule(SignedMetadata metadata) throws StorageException;

  /** Stages a record with its sub-records; storing a record already held changes nothing. */
  void putRecord(RecordWithBody record) throws StorageException;

  /**
   * Stages a credit of {@code amount} to {@code account} in the store's ledger, applied in the same
   * atomic commit as the records: the refund of read-write program {@code programId}, so that a crash can
   * never keep the records and lose the refund, or the reverse. Like a ledger refund
   * ({@link dev.capsulevm.pricing.Ledger#refund}), it also records the program as the last one settled
   * against the account, and is never refused for the balance it reaches.
   *
   * @throws StorageException NO_LEDGER when this store keeps no ledger
   */
  void credit(PublicKey account, Amount amount, Hash programId) throws StorageException;

  /** Applies every staged write at once, or throws and applies none. Closes the batch. */
  void commit() throws StorageException;

  /** Discards the staged writes. Closes the batch; aborting a closed batch does nothing. */
  void abort();

  /** Aborts unless committed. */
  @Override
  default void close() {
    abort();
  }
}
