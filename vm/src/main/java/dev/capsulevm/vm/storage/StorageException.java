package dev.capsulevm.vm.storage;

import java.util.Objects;

/** A storage operation was refused; {@link #reason()} says why and the message names the value. */
public final class StorageException extends Exception {
  /** Why. */
  public enum Reason {
    /** No capsule with this id is stored. */
    UNKNOWN_CAPSULE,
    /** A capsule with this id is already stored. */
    CAPSULE_EXISTS,
    /** A record names a parent the capsule does not hold. */
    MISSING_PARENT,
    /** The batch was already committed or aborted. */
    BATCH_CLOSED,
    /** A credit or settlement was staged on a store that keeps no ledger. */
    NO_LEDGER,
    /** The ledger refused a settlement: its withdrawal's nonce is used, or the account cannot pay its cost. */
    SETTLEMENT_REFUSED,
    /** A credit would overflow the account's balance. */
    BALANCE_OVERFLOW,
    /** A drop names a record the capsule does not hold. */
    UNKNOWN_RECORD,
    /** A drop names a record whose payloads are never dropped (a membership record). */
    NOT_DROPPABLE
  }

  private final Reason reason;

  public StorageException(Reason reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  public Reason reason() {
    return reason;
  }
}
