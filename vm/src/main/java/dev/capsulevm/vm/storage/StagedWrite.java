package dev.capsulevm.vm.storage;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One write a {@link StagedBatch} holds until its commit. A store applies a batch's writes in the order
 * they were staged (a record may belong to a capsule, or name a parent, staged earlier in the batch) by
 * handing each to its {@link Target}, which has one method per kind: a new kind of write does not
 * compile until every store handles it.
 */
public sealed interface StagedWrite {
  /** What a store does with each kind of write inside its atomic apply step. */
  interface Target {
    void createCapsule(SignedMetadata metadata) throws StorageException;

    void putRecord(RecordWithBody record, @Nullable StoragePayment paymentOrNull) throws StorageException;

    void dropPayloads(DropPayloads drop) throws StorageException;

    void settle(Settlement settlement) throws StorageException;
  }

  /** Hands this write to the method of {@code target} for its kind. */
  void applyTo(Target target) throws StorageException;

  /** The creation of the capsule {@code metadata} describes. */
  record CreateCapsule(SignedMetadata metadata) implements StagedWrite {
    public CreateCapsule {
      Objects.requireNonNull(metadata, "metadata");
    }

    @Override
    public void applyTo(Target target) throws StorageException {
      target.createCapsule(metadata);
    }
  }

  /**
   * A record with its sub-records (the batch keeps its own copies of the payloads), and what its storage
   * was paid with when a renter's program appends it.
   */
  record PutRecord(RecordWithBody record, @Nullable StoragePayment paymentOrNull) implements StagedWrite {
    public PutRecord {
      Objects.requireNonNull(record, "record");
    }

    @Override
    public void applyTo(Target target) throws StorageException {
      target.putRecord(record, paymentOrNull);
    }
  }

  /**
   * Dropping a data record's payloads under the retention policy, naming the witness that lets them go,
   * and crediting the unused storage to the payer ({@link Batch#dropPayloads}).
   */
  record DropPayloads(Hash capsuleId, Hash recordHash, Hash witness, @Nullable PublicKey creditAccountOrNull,
      Amount credit) implements StagedWrite {
    public DropPayloads {
      Objects.requireNonNull(capsuleId, "capsuleId");
      Objects.requireNonNull(recordHash, "recordHash");
      Objects.requireNonNull(witness, "witness");
      Objects.requireNonNull(credit, "credit");
      if (creditAccountOrNull == null && credit.units() != 0) {
        throw new IllegalArgumentException("a credit of " + credit.units() + " units names no account");
      }
    }

    @Override
    public void applyTo(Target target) throws StorageException {
      target.dropPayloads(this);
    }
  }

  /**
   * The end of a program paid by a withdrawal, written to the store's ledger: its cost, its nonce and its
   * id as the account's last program ({@link Batch#settle}).
   */
  record Settle(Settlement settlement) implements StagedWrite {
    public Settle {
      Objects.requireNonNull(settlement, "settlement");
    }

    @Override
    public void applyTo(Target target) throws StorageException {
      target.settle(settlement);
    }
  }
}
