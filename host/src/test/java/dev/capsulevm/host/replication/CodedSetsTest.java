package dev.capsulevm.host.replication;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.host.sync.CodedSet;
import dev.capsulevm.host.sync.Riblt;
import dev.capsulevm.host.sync.SessionKey;
import dev.capsulevm.host.sync.SyncDag;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.storage.Batch;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The coded symbols a host keeps for its peers, against the LMDB store they follow. */
class CodedSetsTest {
  static final byte[] PAIR = new byte[32];
  static final CodedSets.Limits SMALL = new CodedSets.Limits(64, 0, 1L << 30, Duration.ofHours(1));

  @TempDir
  Path dir;

  private final List<LmdbCapsuleStorage> opened = new ArrayList<>();
  private final SettableClock clock = new SettableClock(Instant.parse("2026-01-01T00:00:00Z"));

  @AfterEach
  void closeStores() {
    for (LmdbCapsuleStorage s : opened) {
      s.close();
    }
  }

  private LmdbCapsuleStorage open(String name) throws Exception {
    LmdbCapsuleStorage s = LmdbCapsuleStorage.open(dir.resolve(name), 64L << 20, 16);
    opened.add(s);
    return s;
  }

  static void create(ReplicaStore store, CapsuleFixture capsule) throws Exception {
    try (Batch batch = store.newBatch()) {
      batch.createCapsule(capsule.metadata);
      batch.commit();
    }
  }

  static void put(ReplicaStore store, List<RecordWithBody> records) throws Exception {
    try (Batch batch = store.newBatch()) {
      for (RecordWithBody r : records) {
        batch.putRecord(r);
      }
      batch.commit();
    }
  }

  /** A chain of {@code n} records after {@code after}. */
  static List<RecordWithBody> records(CapsuleFixture capsule, Hash after, int n, String tag, long seed) {
    return Replicas.chain(capsule, after, n, tag + seed + "-", 1);
  }

  static SessionKey key(CapsuleFixture capsule) {
    return SessionKey.forPair(capsule.id(), PAIR);
  }

  /** The kept symbols, past the prefix too, are those of an encoding of every stored id. */
  static void assertKeptEqualsStore(CodedSet.Snapshot kept, ReplicaStore store, Hash capsule) throws Exception {
    try (ReplicaDag stored = new ReplicaDag(store, capsule, ReplicaDag.Limits.DEFAULT)) {
      assertEquals(stored.digest(), kept.digest(), "the kept set is the stored one");
      int horizon = 3 * kept.prefix() + 5;
      Riblt.Source fromKept = new Riblt.MaintainedEncoder(kept, horizon);
      Riblt.Encoder scratch = new Riblt.Encoder(kept.key(), stored, horizon, true);
      Riblt.Symbols a = fromKept.produce(horizon);
      Riblt.Symbols b = scratch.produce(horizon);
      assertArrayEquals(b.sums, a.sums);
      assertArrayEquals(b.checksums, a.checksums);
      assertArrayEquals(b.counts, a.counts);
    }
  }

  @Test
  void aKeptSetFollowsEveryCommitAndEqualsAnEncodingFromScratch() throws Exception {
    LmdbCapsuleStorage store = open("a");
    CodedSets sets = new CodedSets(store, SMALL, clock);
    store.onRecordsStored(sets);
    CapsuleFixture capsule = new CapsuleFixture("follows");
    create(store, capsule);
    List<RecordWithBody> records = records(capsule, capsule.id(), 400, "r", 1);
    put(store, records.subList(0, 150));
    CodedSet.Snapshot first = sets.snapshot(capsule.id(), key(capsule));
    assertNotNull(first);
    assertEquals(150, first.size());
    assertKeptEqualsStore(first, store, capsule.id());
    // commits of every size, one repeating records held already
    put(store, records.subList(150, 151));
    put(store, records.subList(140, 300));
    put(store, records.subList(300, 400));
    CodedSet.Snapshot later = sets.snapshot(capsule.id(), key(capsule));
    assertEquals(400, later.size());
    assertKeptEqualsStore(later, store, capsule.id());
    assertEquals(150, first.size(), "a snapshot stays as it was");
    assertEquals(1, sets.built());
    assertEquals(2, sets.served());
  }

  @Test
  void commitsDuringTheBuildAreQueuedAndApplied() throws Exception {
    LmdbCapsuleStorage real = open("a");
    CapsuleFixture capsule = new CapsuleFixture("during the build");
    create(real, capsule);
    List<RecordWithBody> records = records(capsule, capsule.id(), 300, "r", 2);
    put(real, records.subList(0, 200));
    AtomicBoolean once = new AtomicBoolean();
    // a store whose scan commits the rest from another thread while its read transaction is open
    ReplicaStore store = (ReplicaStore) Proxy.newProxyInstance(ReplicaStore.class.getClassLoader(),
        new Class<?>[] {ReplicaStore.class}, (proxy, method, args) -> {
          if (method.getName().equals("forEachRecordId")) {
            SyncDag.LimbConsumer action = (SyncDag.LimbConsumer) args[1];
            SyncDag.LimbConsumer meddling = (l0, l1, l2, l3) -> {
              if (once.compareAndSet(false, true)) {
                CompletableFuture.runAsync(() -> {
                  try {
                    put(real, records.subList(200, 300));
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                }).join();
              }
              action.accept(l0, l1, l2, l3);
            };
            real.forEachRecordId((Hash) args[0], meddling);
            return null;
          }
          try {
            return method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
    CodedSets sets = new CodedSets(store, SMALL, clock);
    real.onRecordsStored(sets);
    CodedSet.Snapshot kept = sets.snapshot(capsule.id(), key(capsule));
    assertTrue(once.get(), "the commit ran inside the scan");
    assertNotNull(kept);
    assertEquals(300, kept.size(), "the scan saw 200; the queued commit brought the rest");
    assertKeptEqualsStore(kept, real, capsule.id());
  }

  @Test
  void aKeptSetIsTheStoredOneAfterARestart() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("restart");
    List<RecordWithBody> records = records(capsule, capsule.id(), 300, "r", 3);
    LmdbCapsuleStorage before = open("a");
    CodedSets sets = new CodedSets(before, SMALL, clock);
    before.onRecordsStored(sets);
    create(before, capsule);
    put(before, records.subList(0, 100));
    sets.snapshot(capsule.id(), key(capsule)); // kept from now on
    put(before, records.subList(100, 250));
    CodedSet.Snapshot old = sets.snapshot(capsule.id(), key(capsule));
    before.close();
    opened.remove(before);
    LmdbCapsuleStorage after = open("a");
    CodedSets rebuilt = new CodedSets(after, SMALL, clock);
    after.onRecordsStored(rebuilt);
    CodedSet.Snapshot fresh = rebuilt.snapshot(capsule.id(), key(capsule));
    assertEquals(old.digest(), fresh.digest());
    assertKeptEqualsStore(fresh, after, capsule.id());
    put(after, records.subList(250, 300));
    assertKeptEqualsStore(rebuilt.snapshot(capsule.id(), key(capsule)), after, capsule.id());
  }

  @Test
  void smallCapsulesAreNotKept() throws Exception {
    LmdbCapsuleStorage store = open("a");
    CodedSets sets = new CodedSets(store, new CodedSets.Limits(64, 100, 1L << 30, Duration.ofHours(1)), clock);
    store.onRecordsStored(sets);
    CapsuleFixture capsule = new CapsuleFixture("small");
    create(store, capsule);
    List<RecordWithBody> records = records(capsule, capsule.id(), 100, "r", 4);
    put(store, records.subList(0, 99));
    assertNull(sets.snapshot(capsule.id(), key(capsule)));
    assertEquals(0, sets.size());
    put(store, records.subList(99, 100));
    assertNotNull(sets.snapshot(capsule.id(), key(capsule)));
  }

  @Test
  void theMemoryBoundKeepsTheSetsUsedLast() throws Exception {
    LmdbCapsuleStorage store = open("a");
    CapsuleFixture one = new CapsuleFixture("one");
    CapsuleFixture two = new CapsuleFixture("two");
    create(store, one);
    create(store, two);
    put(store, records(one, one.id(), 200, "r", 5));
    put(store, records(two, two.id(), 200, "r", 6));
    // room for one set of 200 ids (16 * 64 + 48 * 200 bytes, and what its arrays round up to), not two
    CodedSets sets = new CodedSets(store, new CodedSets.Limits(64, 0, 20_000, Duration.ofHours(1)), clock);
    store.onRecordsStored(sets);
    assertNotNull(sets.snapshot(one.id(), key(one)));
    assertNotNull(sets.snapshot(two.id(), key(two)));
    assertEquals(1, sets.size(), "the set of one was dropped for two's");
    assertTrue(sets.bytes() <= 20_000, () -> sets.bytes() + " bytes");
    assertNotNull(sets.snapshot(one.id(), key(one)));
    assertEquals(3, sets.built());
    CodedSets tiny = new CodedSets(store, new CodedSets.Limits(64, 0, 5_000, Duration.ofHours(1)), clock);
    assertNull(tiny.snapshot(one.id(), key(one)), "a set over the bound alone is not kept");
    assertEquals(0, tiny.size());
  }

  @Test
  void aSetUnusedForItsIdleTimeIsDropped() throws Exception {
    LmdbCapsuleStorage store = open("a");
    CodedSets sets = new CodedSets(store, SMALL, clock);
    store.onRecordsStored(sets);
    CapsuleFixture one = new CapsuleFixture("idle");
    CapsuleFixture two = new CapsuleFixture("busy");
    create(store, one);
    create(store, two);
    put(store, records(one, one.id(), 20, "r", 7));
    put(store, records(two, two.id(), 20, "r", 8));
    sets.snapshot(one.id(), key(one));
    clock.advance(Duration.ofMinutes(50));
    sets.snapshot(two.id(), key(two));
    clock.advance(Duration.ofMinutes(20));
    sets.snapshot(two.id(), key(two));
    assertEquals(1, sets.size(), "one was unused for 70 minutes");
    assertEquals(List.of(), sets.digestsOf(one.id()));
    assertEquals(1, sets.digestsOf(two.id()).size());
  }
}
