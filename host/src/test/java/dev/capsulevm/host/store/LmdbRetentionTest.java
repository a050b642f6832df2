package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.vm.exec.ExecutorStoreContract;
import dev.capsulevm.vm.exec.RetentionContract;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** Retention over LMDB: dropped payloads leave {@code bodies}, the witness lands in {@code dropped}. */
class LmdbRetentionTest extends RetentionContract {
  @TempDir Path dir;

  @Override
  protected ExecutorStoreContract.Store newStore(SettableClock clock) throws Exception {
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("store"), 64L << 20, 64);
    LmdbLedger ledger = storage.ledger(clock, Amount.ofCap(1_000_000));
    return ExecutorStoreContract.Store.of(storage, ledger, storage::dump, storage::close);
  }
}
