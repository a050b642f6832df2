package dev.capsulevm.renter.evidence;

/** An evidence file that does not parse, or does not prove what it claims; the message says why. */
public final class EvidenceException extends Exception {
  private static final long serialVersionUID = 1L;

  public EvidenceException(String message) {
    super(message);
  }

  public EvidenceException(String message, Throwable cause) {
    super(message, cause);
  }
}
