package dev.capsulevm.proofs.privacy;

import java.util.Objects;

/**
 * Something of a private capsule does not decrypt: a keystore entry, a previous-epoch link or a payload.
 * Never garbage plaintext instead. The message names what failed (member, epoch key, record height and
 * writer, sub-record index), never a secret byte.
 */
public final class DecryptionException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Why it failed, for callers that act on the difference. */
  public enum Reason {
    /** The entry is wrapped to another X25519 key than the caller's: nothing was tried. */
    NOT_FOR_YOU,
    /** The AEAD refused it: a wrong key, or bytes changed or moved to another place. */
    DOES_NOT_DECRYPT,
    /** It decrypted, but to a secret that does not derive the epoch key it claims to open. */
    WRONG_EPOCH_SECRET,
  }

  private final Reason reason;

  DecryptionException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  DecryptionException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  public Reason reason() {
    return reason;
  }
}
