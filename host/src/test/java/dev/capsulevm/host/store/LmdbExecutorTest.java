package dev.capsulevm.host.store;

import dev.capsulevm.vm.exec.ExecutorContract;
import dev.capsulevm.vm.storage.CapsuleStorage;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/**
 * The executor suite over LMDB. Each test's stores are closed afterwards; closing refuses while a
 * snapshot is open, so a snapshot the executor leaked fails the test.
 */
class LmdbExecutorTest extends ExecutorContract {
  @TempDir Path dir;
  private final OpenedStores stores = new OpenedStores();

  @Override
  protected CapsuleStorage newStorage() throws Exception {
    return stores.open(dir.resolve("store" + stores.count()), 64);
  }

  @Override
  protected void releaseStorages() {
    stores.closeAll();
  }
}
