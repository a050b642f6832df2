package dev.capsulevm.vm.storage;

import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The {@link Batch} every store uses: it keeps the staged writes in order (each a {@link SignedMetadata}
 * or a {@link RecordWithBody} whose payloads are copied, so the caller may reuse its arrays) and hands
 * them to the store's atomic apply step on commit. Stores differ only in that step.
 */
public final class StagedBatch implements Batch {
  /** A store's atomic apply step: every write or none. */
  @FunctionalInterface
  public interface Applier {
    void apply(List<Object> writes) throws StorageException;
  }

  private final Applier applier;
  private final List<Object> writes = new ArrayList<>();
  private boolean closed;

  public StagedBatch(Applier applier) {
    this.applier = Objects.requireNonNull(applier, "applier");
  }

  private void requireOpen() throws StorageException {
    if (closed) {
      throw new StorageException(Reason.BATCH_CLOSED, "the batch was already committed or aborted");
    }
  }

  @Override
  public void createCapsule(SignedMetadata metadata) throws StorageException {
    requireOpen();
    writes.add(Objects.requireNonNull(metadata, "metadata"));
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException when the body's sub-record count differs from the header's
   */
  @Override
  public void putRecord(RecordWithBody record) throws StorageException {
    requireOpen();
    Objects.requireNonNull(record, "record");
    long count = record.record().header().subRecordCount();
    if (count != record.payloads().size()) {
      throw new IllegalArgumentException("record " + record.hash().toHex() + " declares " + count
          + " sub-records but carries " + record.payloads().size());
    }
    List<byte[]> copies = new ArrayList<>(record.payloads().size());
    for (byte[] payload : record.payloads()) {
      copies.add(payload.clone());
    }
    writes.add(new RecordWithBody(record.record(), copies));
  }

  @Override
  public void commit() throws StorageException {
    requireOpen();
    closed = true;
    try {
      applier.apply(writes);
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
