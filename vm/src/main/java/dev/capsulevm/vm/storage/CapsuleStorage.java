package dev.capsulevm.vm.storage;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import org.jspecify.annotations.Nullable;

/** The storage a VM runs against. Thread-safe. */
public interface CapsuleStorage {
  /**
   * A read view of capsule {@code capsuleId} as of now.
   *
   * @throws StorageException UNKNOWN_CAPSULE when it is not stored
   */
  Snapshot openSnapshot(Hash capsuleId) throws StorageException;

  /** A new, empty batch of writes. */
  Batch newBatch();

  /** Whether capsule {@code capsuleId} is stored. */
  boolean hasCapsule(Hash capsuleId);

  /** The committed header of record {@code recordHash} from any capsule, or null; needs no snapshot. */
  @Nullable RecordHeader headerByHashOrNull(Hash recordHash);

  /** The committed record (header and signature) {@code recordHash} from any capsule, or null. */
  @Nullable Record recordByHashOrNull(Hash recordHash);
}
