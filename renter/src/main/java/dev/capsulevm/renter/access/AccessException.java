package dev.capsulevm.renter.access;

/**
 * An access string or member card that was refused: malformed, damaged, sealed to another member, or
 * naming a capsule or creator other than the one its hosts serve. The message says which, in one line.
 */
public final class AccessException extends Exception {
  private static final long serialVersionUID = 1L;

  public AccessException(String message) {
    super(message);
  }

  public AccessException(String message, Throwable cause) {
    super(message, cause);
  }
}
