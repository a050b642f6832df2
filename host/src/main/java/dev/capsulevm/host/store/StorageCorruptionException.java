package dev.capsulevm.host.store;

import java.util.HexFormat;

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

  /** The value under {@code key} in database {@code db} does not parse, as {@code cause} says. */
  static StorageCorruptionException unparsable(String db, byte[] key, Exception cause) {
    return new StorageCorruptionException("database " + db + ", key " + HexFormat.of().formatHex(key)
        + ": stored value does not parse: " + cause.getMessage(), cause);
  }
}
