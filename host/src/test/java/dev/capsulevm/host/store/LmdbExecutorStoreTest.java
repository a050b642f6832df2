package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.vm.exec.ExecutorStoreContract;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store suite over LMDB with its {@link LmdbLedger}; the dump is every key and value of every
 * database in the environment. Closing the store refuses while a snapshot is open, so a leak fails.
 */
class LmdbExecutorStoreTest extends ExecutorStoreContract {
  @TempDir Path dir;

  @Override
  protected Store newStore(Clock clock) throws Exception {
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("store"), 64L << 20, 64);
    LmdbLedger ledger = storage.ledger(clock, Amount.ofCap(1_000_000));
    return Store.of(storage, ledger, storage::dump, storage::close);
  }
}
