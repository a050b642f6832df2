package dev.capsulevm.proofs;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Something a host, a peer or a file presented failed verification. Every failure in {@code proofs}
 * is reported as this one checked type; {@link #failure()} says which rule was broken and the message
 * names the offending value, so callers can map it to a protocol status without parsing text.
 */
public final class VerificationException extends Exception {
  /** The rule that was broken. */
  public enum Failure {
    /** Bytes that do not parse as the canonical encoding they claim to be. */
    MALFORMED_ENCODING,
    /** An Ed25519 signature that does not verify. */
    BAD_SIGNATURE,
    /** A signature is required by the capsule's policy but absent. */
    MISSING_SIGNATURE,
    /**
     * The writer lacks the right for its record: under version-1 metadata, it is not a writer with add;
     * under version 2, it does not hold the right in the member state before the record.
     */
    WRITER_NOT_ALLOWED,
    /** The sub-records do not hash to the header's sub-record root, or their count differs. */
    SUB_RECORD_ROOT_MISMATCH,
    /** A record breaks a limit its capsule's metadata sets. */
    LIMIT_EXCEEDED,
    /** A height that is not 1 + the greatest parent height. */
    BAD_HEIGHT,
    /** Parents that are missing, duplicated, out of canonical order, or not where the rule says. */
    BAD_PARENTS,
    /** A skip pointer that does not point where the rule says. */
    BAD_SKIP_POINTER,
    /** An object that belongs to a different capsule than the one it is checked against. */
    WRONG_CAPSULE,
    /** A header on a proof path that is not named by a pointer of the header above it. */
    BROKEN_PATH,
    /** A proof that does not reach the trusted anchor or any cached record. */
    UNTRUSTED_ANCHOR,
    /** A proof that ends at a different record than the one asked for. */
    WRONG_TARGET,
    /** An RFC 9162 inclusion proof that does not hold. */
    BAD_INCLUSION_PROOF,
    /** An RFC 9162 consistency proof that does not hold. */
    BAD_CONSISTENCY_PROOF,
    /** A version-2 header whose auth parents are out of order or not the ones its parents imply. */
    BAD_AUTH_PARENTS,
    /**
     * A version-2 header whose member root is not the root of the member state before the record, or a
     * member entry proof that does not lead to it.
     */
    BAD_MEMBER_ROOT,
    /**
     * A claim that a sub-record was dropped under the capsule's retention policy that the witness does
     * not support: no policy, a witness not high or late enough, or a membership record.
     */
    NOT_DROPPABLE,
    /**
     * A data record of a private capsule written under another epoch than the current one at it, or when
     * no epoch is usable (docs/FORMAT.md, "Members", "Epochs").
     */
    BAD_EPOCH,
    /**
     * A keystore block that breaks a rule of a private capsule: a card signature that does not verify,
     * entries that are not the readers they must be, a missing rotation, a forward of another epoch than
     * the current one, an epoch key already used (docs/FORMAT.md, "Members", "Keystore rules").
     */
    BAD_KEYSTORE
  }

  private final Failure failure;

  public VerificationException(Failure failure, @Nullable String message) {
    super(failure + ": " + message);
    this.failure = Objects.requireNonNull(failure, "failure");
  }

  public VerificationException(Failure failure, @Nullable String message, Throwable cause) {
    super(failure + ": " + message, cause);
    this.failure = Objects.requireNonNull(failure, "failure");
  }

  /** The rule that was broken. */
  public Failure failure() {
    return failure;
  }
}
