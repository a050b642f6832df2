package dev.capsulevm.renter;

import org.jspecify.annotations.Nullable;

/**
 * Something stopped a renter operation. Subclasses say whose fault it was: {@link HostMisbehaviourException}
 * (the host sent something that does not verify), {@link ProgramFailedException} (the host reported an
 * honest failure with a valid receipt), {@link PriceTableRefusedException} (the host's prices are not
 * acceptable); a plain {@code RenterException} is a transport or protocol error (host unreachable, a
 * gRPC status before any receipt).
 */
public class RenterException extends Exception {
  private static final long serialVersionUID = 1L;

  public RenterException(String message) {
    super(message);
  }

  public RenterException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }
}
