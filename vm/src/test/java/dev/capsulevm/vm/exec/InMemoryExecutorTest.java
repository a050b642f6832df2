package dev.capsulevm.vm.exec;

import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;

class InMemoryExecutorTest extends ExecutorContract {
  @Override
  protected CapsuleStorage newStorage() {
    return new InMemoryCapsuleStorage();
  }
}
