package dev.capsulevm.vm.storage;

import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;

/** Writes test capsules straight into a storage, bypassing the executor. */
public final class StorageFixture {
  private StorageFixture() {}

  /** Commits, in one batch, each capsule's creation (a {@code CapsuleFixture}) and each record, in order. */
  public static void commit(CapsuleStorage storage, Object... writes) throws StorageException {
    try (Batch batch = storage.newBatch()) {
      for (Object write : writes) {
        if (write instanceof RecordWithBody r) {
          batch.putRecord(r);
        } else {
          batch.createCapsule(((CapsuleFixture) write).metadata);
        }
      }
      batch.commit();
    }
  }
}
