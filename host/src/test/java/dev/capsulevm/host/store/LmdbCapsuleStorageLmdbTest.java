package dev.capsulevm.host.store;

import static dev.capsulevm.host.store.OpenedStores.MAP_SIZE;
import static dev.capsulevm.vm.storage.StorageFixture.commit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.merkle.MerkleTree;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/** What the contract suite cannot say: persistence, LMDB transactions and threads, closing, corruption. */
class LmdbCapsuleStorageLmdbTest {

  @TempDir Path dir;
  private final CapsuleFixture capsule = new CapsuleFixture("lmdb capsule");
  @RegisterExtension final OpenedStores stores = new OpenedStores();

  private LmdbCapsuleStorage open() throws Exception {
    return stores.open(dir.resolve("store"), 32);
  }

  @Test
  void dataSurvivesCloseAndReopen() throws Exception {
    RecordWithBody root = capsule.record(capsule.id(), "root");
    RecordWithBody a = capsule.record(root.hash(), "a");
    RecordWithBody b = capsule.record(root.hash(), "b");
    LmdbCapsuleStorage first = open();
    commit(first, capsule, root, a, b);
    first.close();

    LmdbCapsuleStorage again = open();
    assertTrue(again.hasCapsule(capsule.id()));
    assertEquals(a.record(), again.recordByHashOrNull(a.hash()));
    try (Snapshot s = again.openSnapshot(capsule.id())) {
      assertEquals(capsule.metadata, s.metadata());
      assertEquals(root.record(), s.recordOrNull(root.hash()));
      assertEquals(List.of(root.hash()), s.recordsAtHeight(1));
      List<Hash> fork = List.of(a.hash(), b.hash()).stream().sorted().toList();
      assertEquals(fork, s.recordsAtHeight(2));
      assertEquals(fork, s.heads());
      assertArrayEquals("b-1".getBytes(StandardCharsets.UTF_8), s.subRecordOrNull(b.hash(), 1));
    }
    RecordWithBody merge = capsule.record(List.of(a.hash(), b.hash()), "merge", 1);
    commit(again, merge);
    try (Snapshot s = again.openSnapshot(capsule.id())) {
      assertEquals(List.of(merge.hash()), s.heads());
    }
  }

  @Test
  void aSnapshotOpenedBeforeACommitDoesNotSeeIt() throws Exception {
    LmdbCapsuleStorage storage = open();
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    commit(storage, capsule, r1);
    CapsuleFixture other = new CapsuleFixture("created later");
    try (Snapshot before = storage.openSnapshot(capsule.id())) {
      RecordWithBody r2 = capsule.record(r1.hash(), "two");
      commit(storage, other, r2);
      assertEquals(r2.record(), storage.recordByHashOrNull(r2.hash()), "no-snapshot lookups see the commit");
      assertTrue(storage.hasCapsule(other.id()));
      assertNull(before.recordOrNull(r2.hash()));
      assertNull(before.subRecordsOrNull(r2.hash()));
      assertNull(before.subRecordOrNull(r2.hash(), 0));
      assertEquals(List.of(), before.recordsAtHeight(2));
      assertEquals(List.of(r1.hash()), before.heads());
      assertEquals(r1.record(), before.recordOrNull(r1.hash()));
    }
  }

  @Test
  void aSnapshotMayBeReadOnAnotherThread() throws Exception {
    LmdbCapsuleStorage storage = open();
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    commit(storage, capsule, r1);
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(List.of(r1.hash()), CompletableFuture.supplyAsync(s::heads).get(10, TimeUnit.SECONDS));
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void concurrentReadersDuringCommitsSeeConsistentPrefixes() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule);
    List<RecordWithBody> chain = new ArrayList<>();
    Hash parent = capsule.id();
    for (int i = 0; i < 60; i++) {
      RecordWithBody r = capsule.record(parent, "r" + i);
      chain.add(r);
      parent = r.hash();
    }
    int readers = 4;
    AtomicBoolean writing = new AtomicBoolean(true);
    CountDownLatch started = new CountDownLatch(readers);
    ExecutorService pool = Executors.newFixedThreadPool(readers);
    try {
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < readers; t++) {
        results.add(pool.submit(() -> {
          started.countDown();
          int snapshots = 0;
          long seen = 0;
          while (writing.get() || snapshots == 0) {
            try (Snapshot s = storage.openSnapshot(capsule.id())) {
              snapshots++;
              List<Hash> heads = s.heads();
              if (heads.isEmpty()) {
                continue;
              }
              assertEquals(1, heads.size());
              RecordHeader head = s.headerOrNull(heads.get(0));
              assertTrue(head.height() >= seen, "snapshots never go back");
              seen = head.height();
              // every record below the head is complete, with its body
              Hash at = head.hash();
              for (long h = head.height(); h >= 1; h--) {
                assertEquals(List.of(at), s.recordsAtHeight(h));
                int index = (int) (h - 1);
                assertArrayEquals(chain.get(index).payloads().get(1), s.subRecordOrNull(at, 1));
                at = s.headerOrNull(at).primaryParent();
              }
              assertNotNull(storage.headerByHashOrNull(head.hash()));
            }
          }
          return snapshots;
        }));
      }
      assertTrue(started.await(10, TimeUnit.SECONDS));
      try {
        for (RecordWithBody r : chain) {
          commit(storage, r);
        }
      } finally {
        writing.set(false);
      }
      for (Future<Integer> result : results) {
        assertTrue(result.get(60, TimeUnit.SECONDS) > 0);
      }
    } finally {
      pool.shutdownNow();
    }
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(List.of(chain.get(chain.size() - 1).hash()), s.heads());
    }
  }

  @Test
  void closesWithNoOpenSnapshotsAndRefusesWhileOneIsOpen() throws Exception {
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule);
    Snapshot s = storage.openSnapshot(capsule.id());
    assertThrows(IllegalStateException.class, storage::close);
    assertEquals(List.of(), s.heads(), "a refused close leaves the snapshot usable");
    s.close();
    s.close();
    assertDoesNotThrow(storage::close);
    assertDoesNotThrow(storage::close, "closing twice does nothing");
    assertThrows(IllegalStateException.class, () -> storage.openSnapshot(capsule.id()));
    assertThrows(IllegalStateException.class, () -> storage.hasCapsule(capsule.id()));
    assertThrows(IllegalStateException.class, () -> storage.headerByHashOrNull(capsule.id()));
    Batch batch = storage.newBatch();
    batch.createCapsule(new CapsuleFixture("too late").metadata);
    assertThrows(IllegalStateException.class, batch::commit);
  }

  @Test
  void unsignedRecordsAndEmptySubRecordsRoundTrip() throws Exception {
    LmdbCapsuleStorage storage = open();
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) 7);
    List<byte[]> payloads = List.of(new byte[0], "x".getBytes(StandardCharsets.UTF_8));
    Record unsigned = Record.build(capsule.id(), List.of(capsule.id()), payloads, 1_800_000_000_000L,
        SigningKey.fromSeed(seed), false, new InMemoryRecordSource());
    assertNull(unsigned.signatureOrNull());
    commit(storage, capsule, new RecordWithBody(unsigned, payloads));
    assertEquals(unsigned, storage.recordByHashOrNull(unsigned.hash()));
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(unsigned, s.recordOrNull(unsigned.hash()));
      assertArrayEquals(new byte[0], s.subRecordOrNull(unsigned.hash(), 0));
      assertEquals(2, s.subRecordsOrNull(unsigned.hash()).size());
      assertEquals(List.of(unsigned.hash()), s.heads());
    }
  }

  @Test
  void aStoredValueThatDoesNotParseIsReportedAsCorruptionNamingTheKey() throws Exception {
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule, r1);
    storage.close();

    try (Env<ByteBuffer> env = Env.create().setMaxDbs(6).setMapSize(MAP_SIZE).open(dir.resolve("store").toFile())) {
      Dbi<ByteBuffer> records = env.openDbi(Layout.DB_RECORDS);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        ByteBuffer garbage = ByteBuffer.allocateDirect(3).put(new byte[] {1, 2, 3}).flip();
        records.put(txn, Layout.key(r1.hash()), garbage);
        txn.commit();
      }
    }

    LmdbCapsuleStorage reopened = open();
    StorageCorruptionException e =
        assertThrows(StorageCorruptionException.class, () -> reopened.recordByHashOrNull(r1.hash()));
    assertTrue(e.getMessage().contains(r1.hash().toHex()), e.getMessage());
    assertTrue(e.getMessage().contains(Layout.DB_RECORDS), e.getMessage());
    assertTrue(reopened.hasCapsule(capsule.id()), "other values still read");
  }

  @Test
  void aKeptSubRecordTreeServesProofsAndATamperedTopIsReportedAsCorruption() throws Exception {
    RecordWithBody r1 = capsule.record(List.of(capsule.id()), "tree", 5);
    LmdbCapsuleStorage storage = open();
    commit(storage, capsule, r1);
    try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
      MerkleTree kept = snapshot.subRecordTreeOrNull(r1.hash());
      assertEquals(r1.record().header().subRecordRoot(), kept.root());
      assertEquals(MerkleTree.ofLeaves(r1.payloads()).inclusionProof(3), kept.inclusionProof(3));
    }
    try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
      // Read in place, one leaf at a time: the same answers as the whole tree, for every leaf.
      MerkleTree whole = MerkleTree.ofLeaves(r1.payloads());
      for (int i = 0; i < 5; i++) {
        assertEquals(whole.leafProof(i), snapshot.subRecordLeafOrNull(r1.hash(), i), "leaf " + i);
      }
      assertNull(snapshot.subRecordLeafOrNull(r1.hash(), 5));
      assertNull(snapshot.subRecordLeafOrNull(r1.hash(), -1));
    }
    storage.close();

    try (Env<ByteBuffer> env = Env.create().setMaxDbs(16).setMapSize(MAP_SIZE).open(dir.resolve("store").toFile())) {
      Dbi<ByteBuffer> trees = env.openDbi(Layout.DB_TREES);
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        // Five leaves keep levels of 5, 2 and 1 hashes; the last is the root of the first four, which the
        // root check reads. (A changed leaf hash below it shows only as a proof the renter refuses.)
        byte[] levels = MerkleTree.ofLeaves(r1.payloads()).encodedLevels();
        levels[(5 + 2) * 32] ^= 1;
        trees.put(txn, Layout.key(r1.hash()), ByteBuffer.allocateDirect(levels.length).put(levels).flip());
        txn.commit();
      }
    }
    LmdbCapsuleStorage reopened = open();
    try (Snapshot snapshot = reopened.openSnapshot(capsule.id())) {
      StorageCorruptionException e =
          assertThrows(StorageCorruptionException.class, () -> snapshot.subRecordTreeOrNull(r1.hash()));
      assertTrue(e.getMessage().contains(Layout.DB_TREES), e.getMessage());
    }
    try (Snapshot snapshot = reopened.openSnapshot(capsule.id())) {
      StorageCorruptionException e =
          assertThrows(StorageCorruptionException.class, () -> snapshot.subRecordLeafOrNull(r1.hash(), 0));
      assertTrue(e.getMessage().contains(Layout.DB_TREES), e.getMessage());
    }
    reopened.close();
  }

  private RecordWithBody bigRecord(int bytes) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) 8);
    SigningKey key = SigningKey.fromSeed(seed);
    List<byte[]> payloads = List.of(new byte[bytes]);
    Record big = Record.build(capsule.id(), List.of(capsule.id()), payloads, 1L, key, true,
        new InMemoryRecordSource());
    return new RecordWithBody(big, payloads);
  }

  @Test
  void aCommitBeyondTheMaximumMapSizeFailsWholeAndLeavesTheStoreUsable() throws Exception {
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("small"), 1 << 20, 2 << 20, 8);
    stores.add(storage);
    commit(storage, capsule);
    RecordWithBody big = bigRecord(4 << 20);
    RuntimeException e = assertThrows(RuntimeException.class, () -> commit(storage, big));
    assertTrue(e instanceof Env.MapFullException, e.toString());
    assertEquals(2 << 20, storage.mapSize(), "grown once, to the maximum");
    assertNull(storage.recordByHashOrNull(big.hash()));
    RecordWithBody small = capsule.record(capsule.id(), "small");
    commit(storage, small);
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(List.of(small.hash()), s.heads());
    }
  }

  @Test
  void withoutAMaximumTheMapNeverGrows() throws Exception {
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("fixed"), 1 << 20, 8);
    stores.add(storage);
    commit(storage, capsule);
    RecordWithBody big = bigRecord(1200 << 10);
    assertThrows(Env.MapFullException.class, () -> commit(storage, big));
    assertEquals(1 << 20, storage.mapSize());
    assertNull(storage.recordByHashOrNull(big.hash()));
  }

  @Test
  void aCommitThatFitsOnceTheMapDoublesSucceeds() throws Exception {
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("growing"), 1 << 20, 8 << 20, 8);
    stores.add(storage);
    commit(storage, capsule);
    RecordWithBody big = bigRecord(1200 << 10);
    commit(storage, big);
    assertEquals(2 << 20, storage.mapSize());
    assertEquals(big.record(), storage.recordByHashOrNull(big.hash()));
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(List.of(big.hash()), s.heads());
      assertArrayEquals(big.payloads().get(0), s.subRecordOrNull(big.hash(), 0));
    }
  }

  @Test
  void theMapDoesNotGrowWhileASnapshotIsOpen() throws Exception {
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("held"), 1 << 20, 8 << 20, 8);
    stores.add(storage);
    commit(storage, capsule);
    RecordWithBody big = bigRecord(1200 << 10);
    try (Snapshot held = storage.openSnapshot(capsule.id())) {
      assertThrows(Env.MapFullException.class, () -> commit(storage, big));
      assertEquals(1 << 20, storage.mapSize());
      assertEquals(List.of(), held.heads());
    }
    assertNull(storage.recordByHashOrNull(big.hash()));
    commit(storage, big);
    assertEquals(2 << 20, storage.mapSize());
    assertEquals(big.record(), storage.recordByHashOrNull(big.hash()));
  }

  @Test
  void aParentHeldByAnotherCapsuleIsMissing() throws Exception {
    LmdbCapsuleStorage storage = open();
    CapsuleFixture other = new CapsuleFixture("other capsule");
    RecordWithBody theirs = other.record(other.id(), "theirs");
    commit(storage, capsule, other, theirs);
    InMemoryRecordSource source = new InMemoryRecordSource();
    source.add(theirs.record().header());
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) 9);
    List<byte[]> payloads = List.of(new byte[] {1});
    Record cross = Record.build(capsule.id(), List.of(theirs.hash()), payloads, 2L, SigningKey.fromSeed(seed),
        true, source);
    StorageException e = assertThrows(StorageException.class,
        () -> commit(storage, new RecordWithBody(cross, payloads)));
    assertEquals(StorageException.Reason.MISSING_PARENT, e.reason());
    assertNull(storage.recordByHashOrNull(cross.hash()));
    try (Snapshot s = storage.openSnapshot(other.id())) {
      assertEquals(List.of(theirs.hash()), s.heads(), "the other capsule's heads are untouched");
    }
  }

  @Test
  void aRecordWhoseBodyDoesNotMatchItsHeaderIsRefused() {
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    RecordWithBody lying = new RecordWithBody(r1.record(), List.of(new byte[1]));
    assertThrows(IllegalArgumentException.class, () -> open().newBatch().putRecord(lying));
  }

  @Test
  void theRecordEncodingRoundTripsAndChecksTheHash() {
    Record record = capsule.record(capsule.id(), "one").record();
    byte[] stored = StoredRecords.encode(record);
    assertEquals(record, StoredRecords.decode(record.hash(), stored));
    Hash other = capsule.record(capsule.id(), "two").hash();
    assertThrows(StorageCorruptionException.class, () -> StoredRecords.decode(other, stored));
    stored[0] = 9;
    assertThrows(StorageCorruptionException.class, () -> StoredRecords.decode(record.hash(), stored));
    assertFalse(Arrays.equals(stored, StoredRecords.encode(record)));
  }
}
