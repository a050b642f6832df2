package dev.capsulevm.renter;

import dev.capsulevm.proofs.privacy.DecryptionException;

/**
 * Something of a private capsule that this renter should be able to open does not decrypt: a keystore
 * entry wrapped for it, a previous-epoch link, or a verified payload. A wrong key, a keystore entry wrapped
 * for another key or member, or bytes changed or moved by whoever wrote them (the payload and the keystore
 * block were verified against the writer's signed header, so not by the host). Never garbage plaintext
 * instead. The message names the epoch, record and index, never a key byte.
 */
public final class DecryptionFailedException extends RenterException {
  private static final long serialVersionUID = 1L;
  private final DecryptionException.Reason reason;

  DecryptionFailedException(String message, DecryptionException cause) {
    super(message, cause);
    this.reason = cause.reason();
  }

  /** What failed: a key for someone else, an AEAD that refused, or a secret of another epoch. */
  public DecryptionException.Reason reason() {
    return reason;
  }
}
