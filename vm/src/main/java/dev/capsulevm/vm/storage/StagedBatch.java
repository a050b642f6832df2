package dev.capsulevm.vm.storage;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The {@link Batch} every store uses: it keeps the staged writes in order, as {@link StagedWrite}s (a
 * record's payloads are copied, so the caller may reuse its arrays), and hands them to the store's
 * atomic apply step on commit. Stores differ only in that step.
 */
public final class StagedBatch implements Batch {
  /** A store's atomic apply step: every write or none. */
  @FunctionalInterface
  public interface Applier {
    void apply(List<StagedWrite> writes) throws StorageException;
  }

  private final Applier applier;
  private final boolean keepsLedger;
  private final List<StagedWrite> writes = new ArrayList<>();
  private boolean closed;

  /** A batch for a store that keeps no ledger: {@link #settle} is refused. */
  public StagedBatch(Applier applier) {
    this(applier, false);
  }

  /** A batch whose store applies {@link StagedWrite.Settle}s when {@code keepsLedger}. */
  public StagedBatch(Applier applier, boolean keepsLedger) {
    this.applier = Objects.requireNonNull(applier, "applier");
    this.keepsLedger = keepsLedger;
  }

  private void requireOpen() throws StorageException {
    if (closed) {
      throw new StorageException(Reason.BATCH_CLOSED, "the batch was already committed or aborted");
    }
  }

  @Override
  public void createCapsule(SignedMetadata metadata) throws StorageException {
    requireOpen();
    writes.add(new StagedWrite.CreateCapsule(metadata));
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException when the body's sub-record count differs from the header's
   */
  @Override
  public void putRecord(RecordWithBody record, @Nullable StoragePayment paymentOrNull) throws StorageException {
    requireOpen();
    Objects.requireNonNull(record, "record");
    long count = record.record().header().subRecordCount();
    if (count != record.subRecordCount()) {
      throw new IllegalArgumentException("record " + record.hash().toHex() + " declares " + count
          + " sub-records but carries " + record.subRecordCount());
    }
    if (record.isDropped() && paymentOrNull != null) {
      throw new IllegalArgumentException("record " + record.hash().toHex() + " arrives dropped: nothing to pay for");
    }
    writes.add(new StagedWrite.PutRecord(record.withCopiedPayloads(), paymentOrNull));
  }

  @Override
  public void dropPayloads(Hash capsuleId, Hash recordHash, Hash witness, @Nullable PublicKey creditAccountOrNull,
      Amount credit) throws StorageException {
    requireOpen();
    StagedWrite.DropPayloads drop = new StagedWrite.DropPayloads(capsuleId, recordHash, witness, creditAccountOrNull,
        credit);
    if (!keepsLedger && credit.units() != 0) {
      throw new StorageException(Reason.NO_LEDGER, "this store keeps no ledger to credit " + credit.units()
          + " units to " + creditAccountOrNull);
    }
    writes.add(drop);
  }

  @Override
  public void settle(Settlement settlement) throws StorageException {
    requireOpen();
    StagedWrite.Settle settle = new StagedWrite.Settle(settlement);
    if (!keepsLedger) {
      throw new StorageException(Reason.NO_LEDGER, "this store keeps no ledger to settle program "
          + settlement.programId() + " of " + settlement.account());
    }
    writes.add(settle);
  }

  @Override
  public void commit() throws StorageException {
    requireOpen();
    closed = true;
    try {
      applier.apply(Collections.unmodifiableList(writes));
    } finally {
      writes.clear();
    }
  }

  @Override
  public void abort() {
    closed = true;
    writes.clear();
  }
}
