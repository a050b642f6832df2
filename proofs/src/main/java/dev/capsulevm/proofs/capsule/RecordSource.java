package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import org.jspecify.annotations.Nullable;

/**
 * Where record headers come from: the host's store, a renter's cache, or memory. Implementations must
 * return only headers whose hash is the key they are looked up by.
 */
@FunctionalInterface
public interface RecordSource {
  /** The header of the record with {@code recordHash}, or null when this source does not hold it. */
  @Nullable RecordHeader headerOrNull(Hash recordHash);
}
