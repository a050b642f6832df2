package dev.capsulevm.vm.storage;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import org.jspecify.annotations.Nullable;

/**
 * Writes staged for one atomic commit: after {@link #commit()} every staged write is visible to new
 * snapshots, or (when it is refused, or the batch is aborted) none is. Records must already be validated
 * (signatures, heights, skip pointers); storage checks only that they fit: the capsule exists and the
 * parents are held, counting writes staged earlier in the same batch. Not thread-safe.
 */
public interface Batch extends AutoCloseable {
  /** Stages the creation of the capsule {@code metadata} describes. */
  void createCapsule(SignedMetadata metadata) throws StorageException;

  /**
   * Stages a record with its sub-records; storing a record already held changes nothing. A
   * {@linkplain RecordWithBody#isDropped() dropped} record (replication's form) is stored dropped: its
   * header, signature, sub-record tree and witness, no payloads.
   */
  default void putRecord(RecordWithBody record) throws StorageException {
    putRecord(record, null);
  }

  /**
   * Stages a record like {@link #putRecord(RecordWithBody)}, keeping {@code paymentOrNull} (what its
   * storage was paid with) beside it when it is new to the store.
   */
  void putRecord(RecordWithBody record, @Nullable StoragePayment paymentOrNull) throws StorageException;

  /**
   * Stages dropping the payloads of data record {@code recordHash} of capsule {@code capsuleId} under
   * the retention policy, naming {@code witness} (the record that lets them go; the caller checked the
   * rule). The store keeps the header, the signature and the sub-record tree (leaf hashes included),
   * deletes the payloads and the record's {@link StoragePayment}, and credits {@code credit} to
   * {@code creditAccountOrNull} in the store's ledger, without naming a program, in the same commit. A
   * record already dropped changes nothing and credits nothing.
   *
   * @throws StorageException NO_LEDGER for a non-zero credit on a store that keeps no ledger; at commit
   *     UNKNOWN_RECORD when the capsule does not hold the record, NOT_DROPPABLE for a membership record
   */
  void dropPayloads(Hash capsuleId, Hash recordHash, Hash witness, @Nullable PublicKey creditAccountOrNull,
      Amount credit) throws StorageException;

  /**
   * Stages the settlement of a program paid by a withdrawal, applied in the same atomic commit as the
   * records: the program's cost, taken from the account of the store's ledger, its withdrawal's nonce,
   * used from then on, and its id as the account's last program ({@link dev.capsulevm.pricing.Ledger#settle}).
   * A crash can never keep the records and lose the charge, or the reverse.
   *
   * @throws StorageException NO_LEDGER when this store keeps no ledger; at commit SETTLEMENT_REFUSED when
   *     the ledger refuses it (the nonce is used, the balance is short)
   */
  void settle(Settlement settlement) throws StorageException;

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
