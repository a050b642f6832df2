package dev.capsulevm.host.store;

import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;

/** The replica store contract over {@link InMemoryReplicaStore}. */
class InMemoryReplicaStoreTest extends ReplicaStoreContract {
  @Override
  ReplicaStore open() {
    return new InMemoryReplicaStore(new InMemoryCapsuleStorage());
  }
}
