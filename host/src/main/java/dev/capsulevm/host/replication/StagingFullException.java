package dev.capsulevm.host.replication;

/**
 * Staging one more record would pass a {@link ReplicaDag.Limits} bound; the message names it. The
 * record was not staged.
 */
public final class StagingFullException extends Exception {
  public StagingFullException(String message) {
    super(message);
  }
}
