package dev.capsulevm.vm.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.crypto.SigningKey;
import org.junit.jupiter.api.Test;

class InMemoryCapsuleStorageTest extends CapsuleStorageContract {
  @Override
  protected CapsuleStorage newStorage() {
    return new InMemoryCapsuleStorage();
  }

  @Test
  void aStoreWithoutALedgerRefusesSettlementsWhenStaged() throws Exception {
    InMemoryCapsuleStorage storage = new InMemoryCapsuleStorage();
    CapsuleFixture f = new CapsuleFixture("no-ledger");
    try (Batch batch = storage.newBatch()) {
      batch.createCapsule(f.metadata);
      StorageException e = assertThrows(StorageException.class,
          () -> batch.settle(new Settlement(SigningKey.fromSeed(new byte[32]).publicKey(), 1,
              java.time.Instant.ofEpochSecond(1_800_000_000L), Hash.copyOf(new byte[32]), Amount.of(1))));
      assertEquals(StorageException.Reason.NO_LEDGER, e.reason());
    }
    assertFalse(storage.hasCapsule(f.id()));
  }
}
