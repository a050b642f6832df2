package dev.capsulevm.host.store;

import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.CapsuleStorageContract;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class LmdbCapsuleStorageTest extends CapsuleStorageContract {
  @TempDir Path dir;
  @RegisterExtension final OpenedStores stores = new OpenedStores();

  @Override
  protected CapsuleStorage newStorage() throws Exception {
    return stores.open(dir.resolve("store" + stores.count()), 64);
  }
}
