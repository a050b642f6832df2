package dev.capsulevm.host.store;

import static dev.capsulevm.host.store.OpenedStores.MAP_SIZE;
import static dev.capsulevm.vm.storage.StorageFixture.commit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/** The per-capsule set digests and the reads replication uses. */
class LmdbCapsuleStorageDigestTest {

  @TempDir Path dir;
  private final CapsuleFixture capsule = new CapsuleFixture("digest capsule");
  private final CapsuleFixture other = new CapsuleFixture("other digest capsule");
  @RegisterExtension final OpenedStores stores = new OpenedStores();

  private LmdbCapsuleStorage open() throws Exception {
    return stores.open(dir.resolve("store"), 32);
  }

  private static SetDigest digestOf(List<RecordWithBody> records) {
    SetDigest d = new SetDigest();
    records.forEach(r -> d.add(r.hash()));
    return d;
  }

  /** A chain of {@code n} records with a fork of two at the end. */
  private List<RecordWithBody> records(CapsuleFixture c, int n) {
    List<RecordWithBody> out = new ArrayList<>();
    Hash parent = c.id();
    for (int i = 0; i < n; i++) {
      RecordWithBody r = c.record(parent, "r" + i);
      out.add(r);
      parent = r.hash();
    }
    out.add(c.record(out.get(n - 2).hash(), "fork"));
    return out;
  }

  @Test
  void digest_newCapsule_emptyThenMovedOncePerNewRecord() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule, other);
    assertEquals(new SetDigest(), storage.digest(capsule.id()));
    List<RecordWithBody> records = records(capsule, 6);
    commit(storage, records.subList(0, 3).toArray());
    assertEquals(digestOf(records.subList(0, 3)), storage.digest(capsule.id()));
    // the first three again, with the rest: only the new ones move it
    commit(storage, records.toArray());
    commit(storage, records.get(4));
    assertEquals(digestOf(records), storage.digest(capsule.id()));
    assertEquals(records.size(), storage.digest(capsule.id()).count());
    assertEquals(new SetDigest(), storage.digest(other.id()), "another capsule's digest does not move");
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
  void digest_unknownCapsule_throwsUnknownCapsule() throws Exception {
    LmdbCapsuleStorage storage = open();
    StorageException e = assertThrows(StorageException.class, () -> storage.digest(capsule.id()));
    assertEquals(StorageException.Reason.UNKNOWN_CAPSULE, e.reason());
  }

  @Test
  void digest_storedValue_isSumThenCount() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule);
    List<RecordWithBody> records = records(capsule, 3);
    commit(storage, records.toArray());
    String value = storage.dump().get(LmdbCapsuleStorage.DB_DIGESTS).get(capsule.id().toHex());
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
    storage.forgetDigestForTest(capsule.id());
    assertFalse(storage.dump().get(LmdbCapsuleStorage.DB_DIGESTS).containsKey(capsule.id().toHex()));
    storage.close();

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
    try (Env<ByteBuffer> env = Env.create().setMapSize(MAP_SIZE).setMaxDbs(32).open(dir.resolve("store").toFile())) {
      Dbi<ByteBuffer> digests = env.openDbi(LmdbCapsuleStorage.DB_DIGESTS);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        digests.drop(txn, true);
        txn.commit();
      }
    }

    LmdbCapsuleStorage reopened = open();
    assertEquals(before, reopened.dump());
    assertEquals(digestOf(records), reopened.digest(capsule.id()));
    assertEquals(digestOf(others), reopened.digest(other.id()));
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

  @Test
  void replicationReads_answerForTheirCapsuleOnly() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule, other);
    List<RecordWithBody> records = records(capsule, 5);
    RecordWithBody foreign = other.record(other.id(), "foreign");
    commit(storage, records.toArray());
    commit(storage, foreign);

    Set<Hash> ids = new HashSet<>();
    byte[] bytes = new byte[32];
    storage.forEachRecordId(capsule.id(), (l0, l1, l2, l3) -> {
      ByteBuffer.wrap(bytes).putLong(l0).putLong(l1).putLong(l2).putLong(l3);
      assertTrue(ids.add(Hash.copyOf(bytes)), "each id once");
    });
    Set<Hash> expected = new HashSet<>();
    records.forEach(r -> expected.add(r.hash()));
    assertEquals(expected, ids);

    RecordWithBody last = records.get(records.size() - 1);
    assertTrue(storage.holdsRecord(capsule.id(), last.hash()));
    assertFalse(storage.holdsRecord(other.id(), last.hash()));
    assertFalse(storage.holdsRecord(capsule.id(), foreign.hash()));
    assertEquals(last.record().header().parents(), storage.parentsOrNull(capsule.id(), last.hash()));
    assertNull(storage.parentsOrNull(capsule.id(), foreign.hash()));
    assertEquals(new ArrayList<>(new TreeSet<>(List.of(records.get(4).hash(), last.hash()))),
        storage.heads(capsule.id()));
    assertEquals(List.of(), storage.heads(Hash.copyOf(new byte[32])));

    RecordWithBody read = storage.recordWithBodyOrNull(capsule.id(), records.get(2).hash());
    assertEquals(records.get(2).record(), read.record());
    assertEquals(records.get(2).payloads().size(), read.payloads().size());
    for (int i = 0; i < read.payloads().size(); i++) {
      assertArrayEquals(records.get(2).payloads().get(i), read.payloads().get(i));
    }
    assertNull(storage.recordWithBodyOrNull(capsule.id(), foreign.hash()));

    assertEquals(capsule.metadata, storage.metadataOrNull(capsule.id()));
    assertNull(storage.metadataOrNull(Hash.copyOf(new byte[32])));
    assertEquals(new ArrayList<>(new TreeSet<>(List.of(capsule.id(), other.id()))), storage.capsuleIds());
    assertEquals(2, storage.capsuleCount());
    assertNotEquals(storage.digest(capsule.id()), storage.digest(other.id()));
  }
}
