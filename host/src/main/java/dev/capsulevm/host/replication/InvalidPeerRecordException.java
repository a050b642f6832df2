package dev.capsulevm.host.replication;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import java.util.Objects;

/** A peer sent a record this host refuses; {@link #failure()} names the rule it breaks. */
public final class InvalidPeerRecordException extends Exception {
  private final Hash record;
  private final VerificationException.Failure failure;

  public InvalidPeerRecordException(Hash record, VerificationException cause) {
    // The cause's message starts with the rule's name.
    super("peer record " + record.toHex() + " refused: " + cause.getMessage(), cause);
    this.record = record;
    this.failure = Objects.requireNonNull(cause.failure(), "failure");
  }

  /** The hash of the refused record. */
  public Hash record() {
    return record;
  }

  /** The rule it breaks. */
  public VerificationException.Failure failure() {
    return failure;
  }
}
