package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InMemoryLedger;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;

class InMemoryRetentionTest extends RetentionContract {
  @Override
  protected ExecutorStoreContract.Store newStore(SettableClock clock) {
    InMemoryLedger ledger = new InMemoryLedger(clock, Amount.ofCap(1_000_000));
    InMemoryCapsuleStorage storage = new InMemoryCapsuleStorage(ledger);
    return ExecutorStoreContract.Store.of(storage, ledger, storage::dump, () -> { });
  }
}
