package dev.capsulevm.host.store;

import dev.capsulevm.vm.exec.MembersContract;
import dev.capsulevm.vm.storage.CapsuleStorage;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** Live appends to version-2 capsules over LMDB, whose membership records come from its index. */
class LmdbMembersTest extends MembersContract {
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
