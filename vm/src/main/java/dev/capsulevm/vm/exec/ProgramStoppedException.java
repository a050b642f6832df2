package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.SignedReceipt;
import org.jspecify.annotations.Nullable;

/**
 * A program stopped: an instruction failed (nothing it or earlier instructions staged is kept), or its
 * pending commit was refused, expired or could not be applied. Carries the signed receipt of the failed
 * program when the meter was closed, which refunds its storage part.
 *
 * <p>Named for what the executor sees, a program that stopped before its end, and so not to share a name
 * with the renter SDK's {@code ProgramFailedException}, which is the renter's verified account of a
 * failure a host reported (its reasons include the stream's, not only the executor's).
 */
public final class ProgramStoppedException extends Exception {
  /** Why the program stopped. */
  public enum Reason {
    /** The program data did not arrive, broke its buffer limit or was failed by its producer. */
    DATA(1),
    /** The budget could not pay for the instruction; it did not run. */
    BUDGET(2),
    /** An input did not parse or did not validate (metadata, records, signatures, parents). */
    INVALID_INPUT(3),
    /** A named capsule, record, sub-record or anchor is not held, or the target is not below the anchor. */
    NOT_FOUND(4),
    /** A height names several records (a fork). */
    AMBIGUOUS(5),
    /** Storage refused the staged writes. */
    STORAGE(6),
    /** The renter refused the pending commit. */
    REFUSED(7),
    /** The pending commit was not confirmed within the commit timeout. */
    EXPIRED(8),
    /** The running thread was interrupted. */
    INTERRUPTED(9),
    /**
     * A record's writer lacks the right for it among a version-2 or 3 capsule's members: in the state before
     * the record, or in the capsule's current members as the host holds them (docs/FORMAT.md, "Members").
     */
    WRITER_NOT_ALLOWED(15),
    /**
     * A data record of a private capsule is written under an epoch it may not use: not the current epoch
     * at it (the objective {@code BAD_EPOCH} rule), or retired by a membership record the host holds (the
     * live check; docs/FORMAT.md, "Members", "Epochs"). The writer refreshes its heads and rebuilds.
     */
    STALE_EPOCH(16);

    private final int wireNumber;

    Reason(int wireNumber) {
      this.wireNumber = wireNumber;
    }

    /**
     * The reason's number in host.proto's {@code FailureReason} (1 to 9, 15 and 16 are the executor's), which the
     * receipt states ({@link dev.capsulevm.pricing.Receipt.Failed#reason()}).
     */
    public int wireNumber() {
      return wireNumber;
    }
  }

  /** The index used when no single instruction failed (the commit handshake). */
  public static final int NO_INSTRUCTION = -1;

  private final Reason reason;
  private final int instructionIndex;
  private final transient @Nullable SignedReceipt receiptOrNull;

  public ProgramStoppedException(Reason reason, int instructionIndex, @Nullable String message,
      @Nullable SignedReceipt receiptOrNull, @Nullable Throwable cause) {
    super(text(instructionIndex, message), cause);
    this.reason = reason;
    this.instructionIndex = instructionIndex;
    this.receiptOrNull = receiptOrNull;
  }

  /**
   * The exception's message for a failure of {@code instructionIndex} said by {@code message}: also the
   * failure message the receipt states, so the two always agree.
   */
  static String text(int instructionIndex, @Nullable String message) {
    return (instructionIndex >= 0 ? "instruction " + instructionIndex + ": " : "") + message;
  }

  public Reason reason() {
    return reason;
  }

  /** The failed instruction, or {@link #NO_INSTRUCTION}. */
  public int instructionIndex() {
    return instructionIndex;
  }

  /** The failed program's signed receipt, or null. */
  public @Nullable SignedReceipt receiptOrNull() {
    return receiptOrNull;
  }
}
