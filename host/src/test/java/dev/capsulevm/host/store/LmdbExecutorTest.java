package dev.capsulevm.host.store;

import dev.capsulevm.vm.exec.ExecutorContract;
import dev.capsulevm.vm.storage.CapsuleStorage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;

/**
 * The executor suite over LMDB. Each test's stores are closed afterwards; closing refuses while a
 * snapshot is open, so a snapshot the executor leaked fails the test.
 */
class LmdbExecutorTest extends ExecutorContract {
  private static final long TEST_MAP_SIZE = 64L << 20;

  @TempDir Path dir;
  private final List<LmdbCapsuleStorage> opened = new ArrayList<>();

  @Override
  protected CapsuleStorage newStorage() throws Exception {
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("store" + opened.size()), TEST_MAP_SIZE, 64);
    opened.add(storage);
    return storage;
  }

  @Override
  protected void releaseStorages() {
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
