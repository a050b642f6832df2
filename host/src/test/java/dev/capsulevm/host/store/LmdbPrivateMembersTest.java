package dev.capsulevm.host.store;

import dev.capsulevm.vm.exec.PrivateMembersContract;
import dev.capsulevm.vm.storage.CapsuleStorage;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/**
 * Private capsules over LMDB: the keystore blocks of membership records come from the store (the
 * {@code member-records} index names the records, their sub-records hold the blocks, never dropped), also
 * after the store is closed and opened again.
 */
class LmdbPrivateMembersTest extends PrivateMembersContract {
  @TempDir Path dir;
  private final OpenedStores stores = new OpenedStores();

  @Override
  protected CapsuleStorage newStorage() throws Exception {
    return stores.open(dir.resolve("store"), 64);
  }

  @Override
  protected CapsuleStorage reopen(CapsuleStorage storage) throws Exception {
    ((LmdbCapsuleStorage) storage).close();
    return stores.open(dir.resolve("store"), 64);
  }

  @Override
  protected void releaseStorages() {
    stores.closeAll();
  }
}
