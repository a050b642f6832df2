package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/** The reads replication uses on LMDB, and how the per-capsule set digests are kept there. */
class LmdbCapsuleStorageDigestTest extends ReplicaStoreContract {
  @TempDir Path dir;
  @RegisterExtension final OpenedStores stores = new OpenedStores();

  @Override
  LmdbCapsuleStorage open() throws Exception {
    return stores.open(dir.resolve("store"), 32);
  }

  /** Opens the closed store's environment as LMDB itself, as a tool or an older version would. */
  private void withRawEnvironment(Consumer<Env<ByteBuffer>> work) {
    try (Env<ByteBuffer> env = Env.create().setMapSize(OpenedStores.MAP_SIZE).setMaxDbs(32).open(dir.resolve("store").toFile())) {
      work.accept(env);
    }
  }

  @Test
  void digest_refusedBatch_unchanged() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule);
    List<RecordWithBody> records = records(capsule, 4);
    commit(storage, records.get(0));
    SortedMap<String, SortedMap<String, String>> before = storage.dump();
    // records.get(1) is new, records.get(3) misses its parent: the whole batch is refused
    assertThrows(StorageException.class, () -> commit(storage, records.get(1), records.get(3)));
    assertEquals(before, storage.dump());
    assertEquals(digestOf(records.subList(0, 1)), storage.digest(capsule.id()));
  }

  @Test
  void digest_storedValue_isSumThenCount() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule);
    List<RecordWithBody> records = records(capsule, 3);
    commit(storage, records.toArray());
    String value = storage.dump().get(Layout.DB_DIGESTS).get(capsule.id().toHex());
    SetDigest expected = digestOf(records);
    byte[] encoded = ByteBuffer.allocate(40).put(expected.sumBytes()).putLong(expected.count()).array();
    assertArrayEquals(encoded, java.util.HexFormat.of().parseHex(value));
  }

  @Test
  void open_digestMissing_computedOnceFromHeights() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule, other);
    List<RecordWithBody> records = records(capsule, 20);
    commit(storage, records.toArray());
    commit(storage, records(other, 2).toArray());
    SortedMap<String, SortedMap<String, String>> before = storage.dump();
    storage.close();
    // As a store written before digests were kept lacks it.
    withRawEnvironment(env -> {
      Dbi<ByteBuffer> digests = env.openDbi(Layout.DB_DIGESTS);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        assertTrue(digests.delete(txn, Layout.key(capsule.id())));
        txn.commit();
      }
    });

    LmdbCapsuleStorage reopened = open();
    assertEquals(before, reopened.dump(), "the same digest, and nothing else changed");
    assertEquals(digestOf(records), reopened.digest(capsule.id()));
  }

  @Test
  void open_storeWithoutDigestsDatabase_computesEveryDigest() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule, other);
    List<RecordWithBody> records = records(capsule, 9);
    List<RecordWithBody> others = records(other, 3);
    commit(storage, records.toArray());
    commit(storage, others.toArray());
    SortedMap<String, SortedMap<String, String>> before = storage.dump();
    storage.close();
    // An old store: the database was never created.
    withRawEnvironment(env -> {
      Dbi<ByteBuffer> digests = env.openDbi(Layout.DB_DIGESTS);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        digests.drop(txn, true);
        txn.commit();
      }
    });

    LmdbCapsuleStorage reopened = open();
    assertEquals(before, reopened.dump());
    assertEquals(digestOf(records), reopened.digest(capsule.id()));
    assertEquals(digestOf(others), reopened.digest(other.id()));
  }

  @Test
  void open_storeWithoutMemberRecordsDatabase_opensWithNoMembershipRecords() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule);
    List<RecordWithBody> records = records(capsule, 3);
    commit(storage, records.toArray());
    SortedMap<String, SortedMap<String, String>> before = storage.dump();
    storage.close();
    // A store from before the index: the database was never created.
    withRawEnvironment(env -> {
      Dbi<ByteBuffer> members = env.openDbi(Layout.DB_MEMBER_RECORDS);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        members.drop(txn, true);
        txn.commit();
      }
    });

    LmdbCapsuleStorage reopened = open();
    assertEquals(before, reopened.dump(), "created empty, and nothing else changed");
    try (Snapshot snapshot = reopened.openSnapshot(capsule.id())) {
      assertEquals(List.of(), snapshot.membershipRecords());
    }
    // A version-2 capsule stored afterwards is indexed.
    V2Capsule v2 = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody change = v2.appendOne(v2.change(TestCapsule.CREATOR, List.of(v2.id()),
        new MemberChange.SetMember(TestCapsule.STRANGER.publicKey(), Rights.ADD)));
    try (Batch batch = reopened.newBatch()) {
      batch.createCapsule(v2.metadata);
      batch.putRecord(change);
      batch.commit();
    }
    try (Snapshot snapshot = reopened.openSnapshot(v2.id())) {
      assertEquals(List.of(change.hash()), snapshot.membershipRecords());
    }
  }

  @Test
  @Timeout(60)
  void digest_sameRecordsCommittedConcurrently_countedOnce() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule);
    List<RecordWithBody> records = records(capsule, 30);
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        done.add(pool.submit(() -> {
          start.await();
          // one record per batch, so the writers interleave
          for (RecordWithBody r : records) {
            commit(storage, r);
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(digestOf(records), storage.digest(capsule.id()));
  }
}
