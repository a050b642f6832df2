package dev.capsulevm.host.store;

/**
 * A stored value could not be read back: the data directory was damaged or written by something else.
 * The message names the database and the key. Unchecked: no caller can recover from it.
 */
public final class StorageCorruptionException extends RuntimeException {
  public StorageCorruptionException(String message, Throwable cause) {
    super(message, cause);
  }

  public StorageCorruptionException(String message) {
    super(message);
  }
}
