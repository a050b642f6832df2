package dev.capsulevm.renter;

import org.jspecify.annotations.Nullable;

/**
 * The host sent something that does not verify: a proof, a signature, a head, an output larger than
 * the bound it charged for, a bound above the renter's own, a proposal, a receipt that disagrees
 * with the renter's recomputation or with what it saw, a forged price table, balance statement or
 * payment session grant. The SDK cancels the stream before throwing, so a write program that ends this way was never confirmed (a
 * write whose end fails verification after the renter confirmed it, and which is in the capsule, is a
 * {@link WriteCommittedException} instead). {@link #part()} and {@link #instructionIndex()} say where.
 */
public final class HostMisbehaviourException extends RenterException {
  private static final long serialVersionUID = 1L;

  /** Which part of the exchange failed verification. */
  public enum Part {
    /** An instruction's output (its bytes, proof, signatures, index, bound or cost). */
    OUTPUT,
    /** The commit proposal of a read-write program. */
    PROPOSAL,
    /** The end of the program: the receipt, the committed heads, the failure report. */
    RECEIPT,
    /** The order or kind of the messages on the stream. */
    STREAM,
    /** The price table: its signature, or a host key other than the expected one. */
    PRICE_TABLE,
    /** A balance statement ({@code GetBalance}): its signature, host, account, time or echoed fields. */
    BALANCE,
    /** A payment session's grant ({@code OpenSession}): its parse, the session it names, or its signature. */
    SESSION
  }

  private final Part part;
  private final int instructionIndex;

  public HostMisbehaviourException(Part part, int instructionIndex, @Nullable String message,
      @Nullable Throwable cause) {
    super("host misbehaviour in " + describe(part, instructionIndex) + ": " + message, cause);
    this.part = part;
    this.instructionIndex = instructionIndex;
  }

  public HostMisbehaviourException(Part part, int instructionIndex, String message) {
    this(part, instructionIndex, message, null);
  }

  private static String describe(Part part, int index) {
    return switch (part) {
      case OUTPUT -> "output " + index;
      case PROPOSAL -> "the commit proposal";
      case RECEIPT -> "the receipt";
      case STREAM -> "the stream" + (index >= 0 ? " at output " + index : "");
      case PRICE_TABLE -> "the price table";
      case BALANCE -> "the balance statement";
      case SESSION -> "the payment session grant";
    };
  }

  public Part part() {
    return part;
  }

  /** The instruction whose output failed, or -1. */
  public int instructionIndex() {
    return instructionIndex;
  }
}
