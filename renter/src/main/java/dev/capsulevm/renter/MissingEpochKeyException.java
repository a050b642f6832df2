package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.members.EpochKey;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A reader of a private capsule holds no key for the epoch a record is written under: no keystore entry
 * wraps that epoch for it, and no previous link leads to it from an epoch it holds. The record was written
 * before this renter was given read, or after its read was taken away (or, for a reader without an
 * encryption key, at all). Nothing was decrypted; the payload was verified.
 */
public final class MissingEpochKeyException extends RenterException {
  private static final long serialVersionUID = 1L;
  private final transient EpochKey epochKey;
  private final transient @Nullable Hash recordOrNull;

  MissingEpochKeyException(EpochKey epochKey, @Nullable Hash recordOrNull, String message) {
    super(message);
    this.epochKey = Objects.requireNonNull(epochKey, "epochKey");
    this.recordOrNull = recordOrNull;
  }

  /** The epoch this renter holds no key for. */
  public EpochKey epochKey() {
    return epochKey;
  }

  /** The record whose payload could not be decrypted, or null when no record was being read. */
  public @Nullable Hash recordOrNull() {
    return recordOrNull;
  }
}
