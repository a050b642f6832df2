package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InMemoryLedger;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;
import java.time.Clock;

/** The store suite over {@link InMemoryCapsuleStorage} with an {@link InMemoryLedger}. */
class InMemoryExecutorStoreTest extends ExecutorStoreContract {
  @Override
  protected Store newStore(Clock clock) {
    InMemoryLedger ledger = new InMemoryLedger(clock, Amount.ofCap(1_000_000));
    InMemoryCapsuleStorage storage = new InMemoryCapsuleStorage(ledger);
    return Store.of(storage, ledger, storage::dump, () -> { });
  }
}
