package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;

/**
 * A private capsule has no usable epoch at the record this writer would append: every epoch is held by
 * someone who no longer reads (after a member left, or a member without read removed a reader, or
 * concurrent removals on two branches). Only a rotation by a reader makes data writable again. A writer
 * that holds read rekeys by itself before its data; this is thrown to one that does not: a reader must
 * rekey ({@link CapsuleWriter#rekey}). Nothing was sent.
 */
public final class NoUsableEpochException extends RenterException {
  private static final long serialVersionUID = 1L;
  private final transient Hash capsuleId;
  private final boolean writerReads;

  NoUsableEpochException(Hash capsuleId, boolean writerReads, String message) {
    super(message);
    this.capsuleId = capsuleId;
    this.writerReads = writerReads;
  }

  public Hash capsuleId() {
    return capsuleId;
  }

  /** Whether the writer holds read, so that it may rekey itself. */
  boolean writerReads() {
    return writerReads;
  }
}
