package dev.capsulevm.host.replication;

import dev.capsulevm.host.store.InMemoryReplicaStore;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;

/** Every replica session test over {@link InMemoryReplicaStore}: staging needs no LMDB. */
class InMemoryReplicaDagTest extends ReplicaDagTest {
  @Override
  TestStore newStore(String name) {
    InMemoryCapsuleStorage storage = new InMemoryCapsuleStorage();
    return new TestStore(new InMemoryReplicaStore(storage), storage::dump);
  }
}
