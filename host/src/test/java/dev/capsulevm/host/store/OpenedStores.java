package dev.capsulevm.host.store;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The LMDB stores a test opened, closed together after it (registered as an extension). Closing refuses
 * while a snapshot is open, so a snapshot the code under test leaked fails the test, named as such.
 */
final class OpenedStores implements AfterEachCallback {
  static final long MAP_SIZE = 64L << 20;

  private final List<LmdbCapsuleStorage> opened = new ArrayList<>();

  /** Opens the store in {@code directory}, which may hold one already (a reopen). */
  LmdbCapsuleStorage open(Path directory, int maxReaders) throws Exception {
    return add(LmdbCapsuleStorage.open(directory, MAP_SIZE, maxReaders));
  }

  /** Closes {@code storage}, opened otherwise, with the others. */
  LmdbCapsuleStorage add(LmdbCapsuleStorage storage) {
    opened.add(storage);
    return storage;
  }

  /** How many stores were opened: a name for the next fresh directory. */
  int count() {
    return opened.size();
  }

  @Override
  public void afterEach(ExtensionContext context) {
    closeAll();
  }

  void closeAll() {
    IllegalStateException failure = null;
    for (LmdbCapsuleStorage storage : opened) {
      try {
        storage.close();
      } catch (IllegalStateException e) {
        if (failure == null) {
          failure = new IllegalStateException("a snapshot was left open: " + e.getMessage(), e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    opened.clear();
    if (failure != null) {
      throw failure;
    }
  }
}
