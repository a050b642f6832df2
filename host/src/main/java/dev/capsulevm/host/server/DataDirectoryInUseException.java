package dev.capsulevm.host.server;

import java.io.IOException;
import java.nio.file.Path;

/** Another host, in this process or another, holds the data directory's lock; nothing was changed. */
public final class DataDirectoryInUseException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String directory;
  private final String owner;

  DataDirectoryInUseException(Path directory, String owner) {
    super("data directory " + directory.toAbsolutePath() + " is in use by another capsulevm host ("
        + owner.strip().replace('\n', ' ') + "); stop that host or use another --data-dir");
    this.directory = directory.toAbsolutePath().toString();
    this.owner = owner.strip();
  }

  /** The directory, absolute. */
  public String directory() {
    return directory;
  }

  /** What the lock file says of the host holding it: {@code pid=N started=INSTANT}. */
  public String owner() {
    return owner;
  }
}
