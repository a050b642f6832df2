package dev.capsulevm.host.sync;

/** A peer's bytes or messages broke the reconciliation protocol; the session ends and the peer is backed off. */
public final class SyncProtocolException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public SyncProtocolException(String message) {
    super(message);
  }
}
