package dev.capsulevm.renter;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * A call to the host did not end in time, and the renter cancelled it: a unary call past its deadline, a
 * program past its whole-program deadline, or a program during which the host sent nothing for the idle
 * timeout ({@link RenterOptions.Deadlines}). A program cancelled so never has its write confirmed by the
 * renter afterwards; if the renter had confirmed it before, the message says so (the write may be in the
 * capsule). Never retried by the SDK.
 */
public final class DeadlineExceededException extends RenterException {
  private static final long serialVersionUID = 1L;

  /** Which limit was reached. */
  public enum Kind {
    /** {@link RenterOptions.Deadlines#call()}: a unary call (price table, balance). */
    CALL,
    /** {@link RenterOptions.Deadlines#program()}: a whole {@code Execute} call. */
    PROGRAM,
    /** {@link RenterOptions.Deadlines#idle()}: no message from the host on an {@code Execute} call. */
    IDLE
  }

  private final Kind kind;
  private final Duration limit;

  public DeadlineExceededException(Kind kind, Duration limit, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.limit = limit;
  }

  public Kind kind() {
    return kind;
  }

  /** The limit that was reached. */
  public Duration limit() {
    return limit;
  }
}
