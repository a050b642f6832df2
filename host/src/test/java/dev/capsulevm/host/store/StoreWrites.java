package dev.capsulevm.host.store;

import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleFixture;
import dev.capsulevm.vm.storage.StorageException;

/** One-call commits for the store tests. */
final class StoreWrites {
  private StoreWrites() {}

  /** Commits, in one batch, each capsule's creation (a {@link CapsuleFixture}) and each record, in order. */
  static void commit(LmdbCapsuleStorage storage, Object... writes) throws StorageException {
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
