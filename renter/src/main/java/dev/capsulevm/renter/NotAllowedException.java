package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import org.jspecify.annotations.Nullable;

/**
 * A write this key may not make in a version-2 capsule: a data record by a key without add, or a
 * membership change the key has no right to. Thrown before anything is sent when the renter's own view
 * of the members already refuses it, and when the host refuses it ({@code WRITER_NOT_ALLOWED}: it knows
 * of a membership record this renter had not seen). Nothing was committed.
 */
public final class NotAllowedException extends RenterException {
  private static final long serialVersionUID = 1L;
  private final transient PublicKey key;
  private final transient @Nullable Hash removalOrNull;

  NotAllowedException(PublicKey key, @Nullable Hash removalOrNull, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.key = key;
    this.removalOrNull = removalOrNull;
  }

  /** The key that may not write. */
  public PublicKey key() {
    return key;
  }

  /**
   * The membership record that took the key's right away, when the renter knows it (the host's refusal
   * names it in the message).
   */
  public @Nullable Hash removalOrNull() {
    return removalOrNull;
  }
}
