package dev.capsulevm.host.store;

import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.CapsuleStorageContract;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

class LmdbCapsuleStorageTest extends CapsuleStorageContract {
  private static final long TEST_MAP_SIZE = 64L << 20;

  @TempDir Path dir;
  private final List<LmdbCapsuleStorage> opened = new ArrayList<>();

  @Override
  protected CapsuleStorage newStorage() throws Exception {
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("store" + opened.size()), TEST_MAP_SIZE, 64);
    opened.add(storage);
    return storage;
  }

  @AfterEach
  void closeStores() {
    opened.forEach(LmdbCapsuleStorage::close);
  }
}
