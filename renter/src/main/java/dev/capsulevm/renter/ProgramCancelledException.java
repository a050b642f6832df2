package dev.capsulevm.renter;

import org.jspecify.annotations.Nullable;

/**
 * The caller stopped a program: it called {@link ProgramRun#cancel()}, or its own listener threw
 * ({@link ListenerException}). The renter cancelled the call, so the host stops it and refunds what was
 * not spent. A write whose heads were stated up front (or whose commit was confirmed) may have been
 * committed before the cancellation reached the host: {@link #mayHaveCommitted()} says so, and a verified
 * {@code Heads} program tells. Never retried by the SDK.
 */
public class ProgramCancelledException extends RenterException {
  private static final long serialVersionUID = 1L;

  private final boolean mayHaveCommitted;

  public ProgramCancelledException(String message, boolean mayHaveCommitted, @Nullable Throwable cause) {
    super(message, cause);
    this.mayHaveCommitted = mayHaveCommitted;
  }

  /** Whether the host may have committed the program's write before it learned of the cancellation. */
  public boolean mayHaveCommitted() {
    return mayHaveCommitted;
  }
}
