package dev.capsulevm.vm.storage;

class InMemoryCapsuleStorageTest extends CapsuleStorageContract {
  @Override
  protected CapsuleStorage newStorage() {
    return new InMemoryCapsuleStorage();
  }
}
