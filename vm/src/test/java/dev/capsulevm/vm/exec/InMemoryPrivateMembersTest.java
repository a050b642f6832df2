package dev.capsulevm.vm.exec;

import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;

class InMemoryPrivateMembersTest extends PrivateMembersContract {
  @Override
  protected CapsuleStorage newStorage() {
    return new InMemoryCapsuleStorage();
  }
}
