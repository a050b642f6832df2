package dev.capsulevm.renter;

/**
 * The caller's own output listener threw while the program ran: the caller's fault, not the host's.
 * {@link #getCause()} is what it threw. The output it was given had verified; the renter cancelled the
 * call at once (see {@link ProgramCancelledException} for what that means for a write).
 */
public final class ListenerException extends ProgramCancelledException {
  private static final long serialVersionUID = 1L;

  public ListenerException(String message, boolean mayHaveCommitted, Throwable cause) {
    super(message, mayHaveCommitted, cause);
  }
}
