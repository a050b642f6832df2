package dev.capsulevm.host.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.host.sync.InMemoryDag;
import dev.capsulevm.host.sync.Reconciler;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.host.sync.SyncMessage;
import dev.capsulevm.host.sync.SyncRecord;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.SkipPointers;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A replica session over a real LMDB store, with real Ed25519 keys. {@link InMemoryReplicaDagTest} runs
 * the same tests over the in-memory store.
 */
class ReplicaDagTest {
  private static final SigningKey CREATOR = key(31);
  private static final SigningKey WRITER = key(32);
  private static final SigningKey STRANGER = key(33);
  /** Never commits by itself. */
  private static final ReplicaDag.Limits MANUAL = new ReplicaDag.Limits(1 << 16, 1L << 30, 1L << 40);
  /** Commits as soon as anything is ready. */
  private static final ReplicaDag.Limits EAGER = new ReplicaDag.Limits(1 << 16, 1L << 30, 1);

  @TempDir Path dir;
  private TestStore opened;
  private ReplicaStore store;
  private final List<ReplicaDag> dags = new ArrayList<>();

  /** A store under test, and every entry it holds (to show that nothing changed). */
  record TestStore(ReplicaStore store, Supplier<?> dump) {}

  /** A new, empty store. */
  TestStore newStore(String name) throws Exception {
    LmdbCapsuleStorage lmdb = LmdbCapsuleStorage.open(dir.resolve(name), 64L << 20, 64);
    return new TestStore(lmdb, lmdb::dump);
  }

  @BeforeEach
  void open() throws Exception {
    opened = newStore("store");
    store = opened.store();
  }

  @AfterEach
  void close() {
    dags.forEach(ReplicaDag::close);
    store.close();
  }

  private Object dump() {
    return opened.dump().get();
  }

  private static SigningKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  /** A capsule built beside the store: its records exist only here until a test stores them. */
  private static final class Capsule {
    final SignedMetadata metadata;
    final InMemoryRecordSource built = new InMemoryRecordSource();
    final List<RecordWithBody> records = new ArrayList<>();
    private long clock = 1_800_000_000_000L;

    Capsule(String name, SigningPolicy policy) {
      metadata = SignedMetadata.sign(Metadata.create(CREATOR.publicKey(), 1_800_000_000_000L, policy, 8, 1 << 12,
          Map.of(WRITER.publicKey(), Permissions.ADD), name), CREATOR);
    }

    Hash id() {
      return metadata.capsuleId();
    }

    RecordWithBody record(List<Hash> parents, String tag, boolean sign) {
      return record(parents, tag, sign, WRITER);
    }

    RecordWithBody record(List<Hash> parents, String tag, boolean sign, SigningKey writer) {
      List<byte[]> payloads = List.of((tag + "-0").getBytes(StandardCharsets.UTF_8),
          (tag + "-1").getBytes(StandardCharsets.UTF_8));
      Record record = Record.build(id(), parents, payloads, clock++, writer, sign, built);
      built.add(record.header());
      RecordWithBody out = new RecordWithBody(record, payloads);
      records.add(out);
      return out;
    }

    RecordWithBody record(Hash parent, String tag) {
      return record(List.of(parent), tag, true);
    }

    /** A chain of {@code n} signed records after {@code from}. */
    List<RecordWithBody> chain(Hash from, int n, String tag) {
      List<RecordWithBody> out = new ArrayList<>();
      Hash parent = from;
      for (int i = 0; i < n; i++) {
        RecordWithBody r = record(parent, tag + i);
        out.add(r);
        parent = r.hash();
      }
      return out;
    }

    /** {@code n} signed records, each after one to three random earlier ones: forks and merges. */
    List<RecordWithBody> dag(int n, Random random) {
      List<RecordWithBody> out = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        List<Hash> parents = new ArrayList<>();
        if (out.isEmpty()) {
          parents.add(id());
        } else {
          int k = 1 + random.nextInt(Math.min(3, out.size()));
          for (int j = 0; j < k; j++) {
            // mostly recent records, so the DAG grows tall as well as wide
            int from = Math.max(0, out.size() - 6);
            parents.add(out.get(from + random.nextInt(out.size() - from)).hash());
          }
        }
        out.add(record(parents.stream().distinct().toList(), "d" + i, true));
      }
      return out;
    }
  }

  private Capsule create(String name, SigningPolicy policy) throws StorageException {
    Capsule c = new Capsule(name, policy);
    try (Batch batch = store.newBatch()) {
      batch.createCapsule(c.metadata);
      batch.commit();
    }
    return c;
  }

  private void storeDirectly(List<RecordWithBody> records) throws StorageException {
    try (Batch batch = store.newBatch()) {
      for (RecordWithBody r : records) {
        batch.putRecord(r);
      }
      batch.commit();
    }
  }

  private ReplicaDag dag(Capsule c, ReplicaDag.Limits limits) throws StorageException {
    ReplicaDag dag = new ReplicaDag(store, c.id(), limits);
    dags.add(dag);
    return dag;
  }

  private static InMemoryDag model(Hash root, List<RecordWithBody> records) {
    List<SyncRecord> sync = new ArrayList<>();
    for (RecordWithBody r : records) {
      sync.add(new SyncRecord(r.hash(), r.record().header().parents()));
    }
    return InMemoryDag.of(root, sync);
  }

  private static Set<Hash> idsOf(ReplicaDag dag) {
    Set<Hash> ids = new HashSet<>();
    dag.forEachIdLimbs((l0, l1, l2, l3) -> {
      byte[] b = ByteBuffer.allocate(32).putLong(l0).putLong(l1).putLong(l2).putLong(l3).array();
      assertTrue(ids.add(Hash.copyOf(b)), "each id once");
    });
    return ids;
  }

  private static void offerAll(ReplicaDag dag, List<RecordWithBody> records) throws Exception {
    for (RecordWithBody r : records) {
      dag.offer(r);
    }
  }

  private static List<RecordWithBody> shuffled(List<RecordWithBody> records, long seed) {
    List<RecordWithBody> out = new ArrayList<>(records);
    Collections.shuffle(out, new Random(seed));
    return out;
  }

  // ---- committing what arrives in any order

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void offer_chainInRandomOrder_allCommittedAndDigestMatches(boolean eager) throws Exception {
    Capsule c = create("chain", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 40, "c");
    ReplicaDag dag = dag(c, eager ? EAGER : MANUAL);
    offerAll(dag, shuffled(chain, 7));
    int flushed = dag.flush();

    InMemoryDag model = model(c.id(), chain);
    assertEquals(eager ? 0 : 40, flushed);
    assertEquals(40, dag.committed());
    assertEquals(0, dag.staged());
    assertEquals(model.digest(), store.digest(c.id()));
    assertEquals(model.digest(), dag.digest());
    assertEquals(List.of(chain.get(39).hash()), store.heads(c.id()));
    for (RecordWithBody r : chain) {
      assertTrue(dag.add(new SyncRecord(r.hash(), r.record().header().parents())), "new once");
      assertFalse(dag.add(new SyncRecord(r.hash(), r.record().header().parents())), "then held");
    }
  }

  @Test
  void offer_forkingDagInRandomOrder_viewThenStoreMatchModel() throws Exception {
    Capsule c = create("dag", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> records = c.dag(80, new Random(11));
    // the store already holds the first 10
    storeDirectly(records.subList(0, 10));
    ReplicaDag dag = dag(c, MANUAL);
    offerAll(dag, shuffled(records, 3));
    assertEquals(70, dag.staged(), "held records are ignored");

    InMemoryDag model = model(c.id(), records);
    assertEquals(model.digest(), dag.digest(), "stored + staged");
    assertEquals(80, dag.count());
    assertEquals(model.heads(), dag.heads());
    assertEquals(model.ids(), idsOf(dag));
    Set<Hash> asHashes = new HashSet<>();
    dag.forEachId(asHashes::add);
    assertEquals(model.ids(), asHashes);
    for (RecordWithBody r : records) {
      assertEquals(r.record().header().parents(), dag.parents(r.hash()));
      assertTrue(dag.contains(r.hash()));
      assertNotNull(dag.recordOrNull(r.hash()));
    }

    assertEquals(70, dag.flush());
    assertEquals(model.digest(), store.digest(c.id()));
    assertEquals(model.heads(), store.heads(c.id()));
    assertEquals(model.digest(), dag.digest());
    assertEquals(model.ids(), idsOf(dag));
    assertFalse(dag.add(new SyncRecord(records.get(0).hash(), records.get(0).record().header().parents())),
        "held before the session");
    assertTrue(dag.add(new SyncRecord(records.get(79).hash(), records.get(79).record().header().parents())));
  }

  @Test
  void offer_eagerLimits_commitsAsRecordsBecomeReady() throws Exception {
    Capsule c = create("eager", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 6, "e");
    ReplicaDag dag = dag(c, EAGER);
    dag.offer(chain.get(2));
    dag.offer(chain.get(1));
    assertEquals(0, dag.committed(), "still missing the first");
    dag.offer(chain.get(0));
    assertEquals(3, dag.committed(), "the first made three ready");
    assertEquals(model(c.id(), chain.subList(0, 3)).digest(), store.digest(c.id()));
  }

  // ---- refusals: nothing reaches the store

  /** The store holds a chain of five; each bad record is refused by offer or flush with its rule. */
  private void assertRefused(Capsule c, RecordWithBody bad, Failure failure, boolean atOffer) throws Exception {
    Object before = dump();
    ReplicaDag dag = dag(c, MANUAL);
    InvalidPeerRecordException e;
    if (atOffer) {
      e = assertThrows(InvalidPeerRecordException.class, () -> dag.offer(bad));
      assertEquals(0, dag.staged());
    } else {
      dag.offer(bad);
      assertEquals(1, dag.staged(), "only the parents can tell");
      e = assertThrows(InvalidPeerRecordException.class, dag::flush);
    }
    assertEquals(bad.hash(), e.record());
    assertEquals(failure, e.failure());
    assertTrue(e.getMessage().contains(failure.toString()) && e.getMessage().contains(bad.hash().toHex()),
        e.getMessage());
    assertEquals(before, dump());
  }

  /** A greater height whose records carry as many skip pointers (so the header can be built). */
  private static long sameSkipCount(long height) {
    long other = height + 1;
    while (SkipPointers.count(other) != SkipPointers.count(height)) {
      other++;
    }
    return other;
  }

  private static RecordWithBody signedAs(RecordHeader header, List<byte[]> payloads) {
    return new RecordWithBody(
        Record.of(header, WRITER.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray())), payloads);
  }

  @Test
  void offer_badRecords_refusedWithTheirRule_storeUnchanged() throws Exception {
    Capsule c = create("refusals", SigningPolicy.EVERY_RECORD);
    Capsule other = create("another", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 5, "base");
    storeDirectly(chain);
    Hash tip = chain.get(4).hash();
    RecordWithBody next = c.record(tip, "next");
    RecordHeader h = next.record().header();

    byte[] signature = next.record().signatureOrNull().toByteArray();
    signature[7] ^= 0x10;
    assertRefused(c, new RecordWithBody(Record.of(h, Signature.copyOf(signature)), next.payloads()),
        Failure.BAD_SIGNATURE, true);
    assertRefused(c, c.record(List.of(tip), "stranger", true, STRANGER), Failure.WRITER_NOT_ALLOWED, true);
    List<byte[]> tampered = new ArrayList<>(next.payloads());
    tampered.set(1, "tampered".getBytes(StandardCharsets.UTF_8));
    assertRefused(c, new RecordWithBody(next.record(), tampered), Failure.SUB_RECORD_ROOT_MISMATCH, true);
    assertRefused(c, other.record(other.id(), "elsewhere"), Failure.WRONG_CAPSULE, true);
    assertRefused(c, new RecordWithBody(Record.of(h, null), next.payloads()), Failure.MISSING_SIGNATURE, true);

    // Signed by the legitimate writer; only the parents show what is wrong.
    RecordHeader wrongHeight = RecordHeader.create(h.capsuleId(), sameSkipCount(h.height()), h.timestampMillis(),
        h.writer(), h.subRecordCount(), h.subRecordRoot(), h.parents(), h.skipPointers());
    assertRefused(c, signedAs(wrongHeight, next.payloads()), Failure.BAD_HEIGHT, false);
    assertFalse(h.skipPointers().isEmpty(), "height " + h.height() + " has skip pointers");
    List<Hash> skips = new ArrayList<>(h.skipPointers());
    skips.set(0, chain.get(0).hash());
    RecordHeader wrongSkip = RecordHeader.create(h.capsuleId(), h.height(), h.timestampMillis(), h.writer(),
        h.subRecordCount(), h.subRecordRoot(), h.parents(), skips);
    assertRefused(c, signedAs(wrongSkip, next.payloads()), Failure.BAD_SKIP_POINTER, false);
  }

  @Test
  void flush_oneBadRecordAmongGoodOnes_commitsNothing() throws Exception {
    Capsule c = create("bad batch", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 3, "base");
    storeDirectly(chain.subList(0, 1));
    RecordHeader h = chain.get(2).record().header();
    RecordWithBody badHeight = signedAs(RecordHeader.create(h.capsuleId(), sameSkipCount(h.height()),
        h.timestampMillis(), h.writer(), h.subRecordCount(), h.subRecordRoot(), h.parents(), h.skipPointers()),
        chain.get(2).payloads());
    Object before = dump();

    ReplicaDag dag = dag(c, MANUAL);
    dag.offer(chain.get(1));
    dag.offer(badHeight);
    InvalidPeerRecordException e = assertThrows(InvalidPeerRecordException.class, dag::flush);
    assertEquals(badHeight.hash(), e.record());
    assertEquals(Failure.BAD_HEIGHT, e.failure());
    assertEquals(before, dump(), "the good record was in the same batch");
    assertEquals(0, dag.committed());
    assertEquals(2, dag.staged(), "a refused batch stays staged; the session ends");
  }

  // ---- what cannot be committed stays staged, and close drops it

  @Test
  void orphans_parentsNeverArrive_stayStagedAndCloseDropsThem() throws Exception {
    Capsule c = create("orphans", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 4, "o");
    storeDirectly(chain.subList(0, 1));
    Object before = dump();

    ReplicaDag dag = dag(c, EAGER);
    dag.offer(chain.get(3));
    dag.offer(chain.get(2));
    assertEquals(0, dag.flush());
    assertEquals(2, dag.staged());
    assertEquals(0, dag.committed());
    assertTrue(dag.contains(chain.get(2).hash()));
    // The orphans' parent is missing, so the stored head is still one; the staged tip is the other.
    assertEquals(sortedOf(chain.get(0).hash(), chain.get(3).hash()), dag.heads());
    assertEquals(before, dump());

    dag.close();
    assertEquals(before, dump());
    assertThrows(IllegalStateException.class, dag::flush);
    assertThrows(IllegalStateException.class, () -> dag.contains(chain.get(2).hash()));
    ReplicaDag fresh = dag(c, MANUAL);
    assertFalse(fresh.contains(chain.get(2).hash()));
    assertEquals(1, fresh.count());
  }

  private static List<Hash> sortedOf(Hash... ids) {
    List<Hash> out = new ArrayList<>(List.of(ids));
    Collections.sort(out);
    return out;
  }

  @Test
  void heartbeat_unsignedRecordsWaitForASignedDescendant() throws Exception {
    Capsule c = create("heartbeat", SigningPolicy.HEARTBEAT);
    RecordWithBody u1 = c.record(List.of(c.id()), "u1", false);
    RecordWithBody u2 = c.record(List.of(u1.hash()), "u2", false);
    RecordWithBody side = c.record(List.of(u1.hash()), "side", false);
    RecordWithBody s3 = c.record(List.of(u2.hash()), "s3", true);
    Object before = dump();

    ReplicaDag dag = dag(c, EAGER);
    dag.offer(u2);
    dag.offer(u1);
    dag.offer(side);
    assertEquals(0, dag.flush(), "ready but unvouched");
    assertEquals(3, dag.staged());
    assertEquals(before, dump());
    dag.offer(s3);
    assertEquals(3, dag.committed(), "s3 vouches for u2 and u1, not for the side branch");
    assertEquals(1, dag.staged());
    assertTrue(store.holdsRecord(c.id(), u1.hash()));
    assertFalse(store.holdsRecord(c.id(), side.hash()));
    assertEquals(model(c.id(), List.of(u1, u2, s3)).digest(), store.digest(c.id()));
    assertEquals(model(c.id(), List.of(u1, u2, s3, side)).digest(), dag.digest());
    dag.close();
    assertEquals(model(c.id(), List.of(u1, u2, s3)).digest(), store.digest(c.id()));
  }

  @Test
  void staging_pastEachLimit_throwsStagingFull() throws Exception {
    Capsule c = create("limits", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 5, "l");
    ReplicaDag byCount = dag(c, new ReplicaDag.Limits(2, 1L << 30, 1L << 40));
    byCount.offer(chain.get(4));
    byCount.offer(chain.get(3));
    StagingFullException e = assertThrows(StagingFullException.class, () -> byCount.offer(chain.get(2)));
    assertTrue(e.getMessage().contains("maxStagedRecords"), e.getMessage());
    assertEquals(2, byCount.staged());
    assertFalse(byCount.contains(chain.get(2).hash()));
    assertThrows(IllegalStateException.class,
        () -> byCount.add(new SyncRecord(chain.get(2).hash(), chain.get(2).record().header().parents())),
        "a record not staged was never taken");

    long one = chain.get(0).record().header().encodedLength() + 1 + Signature.LENGTH + 2 * "l0-0".length();
    ReplicaDag byBytes = dag(c, new ReplicaDag.Limits(100, 2 * one + one / 2, 1L << 40));
    byBytes.offer(chain.get(0));
    byBytes.offer(chain.get(1));
    e = assertThrows(StagingFullException.class, () -> byBytes.offer(chain.get(2)));
    assertTrue(e.getMessage().contains("maxStagedBytes"), e.getMessage());
    assertEquals(2, byBytes.staged());
    assertEquals(2, byBytes.flush());
    byBytes.offer(chain.get(2));
    assertEquals(1, byBytes.staged(), "committing made room");
    assertThrows(IllegalArgumentException.class, () -> new ReplicaDag.Limits(0, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new ReplicaDag.Limits(1, 1, 0));
  }

  @Test
  void add_semantics() throws Exception {
    Capsule c = create("add", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 3, "a");
    storeDirectly(chain.subList(0, 1));
    ReplicaDag dag = dag(c, MANUAL);
    SyncRecord held = new SyncRecord(chain.get(0).hash(), chain.get(0).record().header().parents());
    SyncRecord offered = new SyncRecord(chain.get(1).hash(), chain.get(1).record().header().parents());
    SyncRecord never = new SyncRecord(chain.get(2).hash(), chain.get(2).record().header().parents());
    dag.offer(chain.get(0));
    dag.offer(chain.get(1));
    assertFalse(dag.add(held));
    assertThrows(IllegalStateException.class, () -> dag.add(never));
    assertThrows(IllegalArgumentException.class, () -> dag.add(new SyncRecord(offered.id(), List.of(c.id()))));
    assertTrue(dag.add(offered));
    assertFalse(dag.add(offered));
    assertNull(dag.recordOrNull(never.id()));
    assertEquals(chain.get(1).record(), dag.recordOrNull(offered.id()).record());
  }

  @Test
  void constructor_unknownCapsule_throwsUnknownCapsule() {
    Capsule c = new Capsule("never created", SigningPolicy.EVERY_RECORD);
    StorageException e = assertThrows(StorageException.class, () -> new ReplicaDag(store, c.id(), MANUAL));
    assertEquals(StorageException.Reason.UNKNOWN_CAPSULE, e.reason());
  }

  // ---- other writers to the same capsule

  @Test
  void stagedRecordStoredByAnotherWriter_countedOnce() throws Exception {
    Capsule c = create("race", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 4, "r");
    ReplicaDag dag = dag(c, MANUAL);
    offerAll(dag, chain);
    InMemoryDag model = model(c.id(), chain);
    assertEquals(model.digest(), dag.digest());
    storeDirectly(chain.subList(0, 2)); // a renter or another session
    assertEquals(model.ids(), idsOf(dag), "each id once while still staged");
    assertEquals(model.heads(), dag.heads());
    assertEquals(model.digest(), dag.digest());
    assertEquals(4, dag.count());
    assertEquals(2, dag.flush(), "only the two it still had to store");
    assertEquals(model.digest(), store.digest(c.id()));
  }

  @Test
  void waitingRecord_parentStoredByAnotherWriter_committedOnFlush() throws Exception {
    Capsule c = create("parent elsewhere", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 3, "p");
    ReplicaDag dag = dag(c, MANUAL);
    dag.offer(chain.get(2));
    dag.offer(chain.get(1));
    assertEquals(0, dag.flush(), "the first is missing");
    storeDirectly(chain.subList(0, 1)); // never offered to this session
    assertEquals(2, dag.flush());
    assertEquals(model(c.id(), chain).digest(), store.digest(c.id()));
  }

  @Test
  void offer_recordStoredMeanwhile_releasesWhatWaitedForIt() throws Exception {
    Capsule c = create("offered late", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> chain = c.chain(c.id(), 2, "q");
    ReplicaDag dag = dag(c, EAGER);
    dag.offer(chain.get(1));
    storeDirectly(chain.subList(0, 1));
    dag.offer(chain.get(0)); // held now: ignored, but its child is ready
    assertEquals(1, dag.committed());
    assertEquals(0, dag.staged());
    assertFalse(dag.add(new SyncRecord(chain.get(0).hash(), chain.get(0).record().header().parents())));
  }

  @Test
  @Timeout(120)
  void twoSessionsAndAWriter_sameRecordsConcurrently_digestCorrect() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      for (int round = 0; round < 3; round++) {
        Capsule c = create("concurrent " + round, SigningPolicy.EVERY_RECORD);
        List<RecordWithBody> records = c.dag(60, new Random(round));
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int s = 0; s < 2; s++) {
          long seed = 100 * round + s;
          done.add(pool.submit(() -> {
            start.await();
            try (ReplicaDag dag = new ReplicaDag(store, c.id(), new ReplicaDag.Limits(1 << 10, 1L << 30, 200))) {
              offerAll(dag, shuffled(records, seed));
              dag.flush();
              assertEquals(0, dag.staged());
              assertEquals(model(c.id(), records).digest(), dag.digest());
            }
            return null;
          }));
        }
        done.add(pool.submit(() -> {
          start.await();
          for (RecordWithBody r : records) {
            storeDirectly(List.of(r));
          }
          return null;
        }));
        start.countDown();
        for (Future<?> f : done) {
          f.get();
        }
        InMemoryDag model = model(c.id(), records);
        SetDigest digest = store.digest(c.id());
        assertEquals(model.digest(), digest, "round " + round);
        assertEquals(model.heads(), store.heads(c.id()));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  // ---- a whole session: two stores reconciled through the sync core

  /** Offers the bodies of the records in {@code turn} from the sender's view to the receiver's. */
  private static List<SyncMessage> carry(List<SyncMessage> turn, ReplicaDag from, ReplicaDag to) throws Exception {
    for (SyncMessage m : turn) {
      if (m instanceof SyncMessage.Records records) {
        for (SyncRecord r : records.records()) {
          RecordWithBody body = from.recordOrNull(r.id());
          assertNotNull(body, "the sender has what it sends");
          to.offer(body);
        }
      }
    }
    return turn;
  }

  private static void ahead(Reconciler responder, ArrayDeque<List<SyncMessage>> queue) {
    while (responder.streaming() && queue.size() < 2) {
      SyncMessage.Symbols next = responder.nextBatch();
      if (next == null) {
        return;
      }
      queue.add(List.of(next));
    }
  }

  /** The Sync service's job in miniature: each turn's records are offered before the reconciler sees it. */
  private static Reconciler.Outcome session(ReplicaDag a, ReplicaDag b, Reconciler.Config config) throws Exception {
    Reconciler initiator = new Reconciler(a, Reconciler.Role.INITIATOR, config, new Random(1));
    Reconciler responder = new Reconciler(b, Reconciler.Role.RESPONDER, config, new Random(2));
    ArrayDeque<List<SyncMessage>> fromResponder = new ArrayDeque<>();
    fromResponder.add(carry(responder.receive(carry(initiator.start(), a, b)), b, a));
    ahead(responder, fromResponder);
    for (int guard = 0; !initiator.finished() && guard < 10_000; guard++) {
      List<SyncMessage> in = fromResponder.isEmpty() ? List.of() : fromResponder.poll();
      List<SyncMessage> reply = initiator.receive(in);
      if (reply.isEmpty()) {
        ahead(responder, fromResponder);
        continue;
      }
      fromResponder.clear();
      fromResponder.add(carry(responder.receive(carry(reply, a, b)), b, a));
      if (initiator.finished()) {
        break;
      }
      ahead(responder, fromResponder);
    }
    return initiator.outcome();
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void session_twoStoresWithDifferentForks_bothEndWithTheUnion(boolean bloom) throws Exception {
    Capsule c = new Capsule("two stores", SigningPolicy.EVERY_RECORD);
    List<RecordWithBody> shared = c.dag(50, new Random(5));
    Hash tip = shared.get(shared.size() - 1).hash();
    List<RecordWithBody> onlyA = c.chain(tip, 12, "a");
    List<RecordWithBody> onlyB = c.chain(tip, 7, "b");
    try (ReplicaStore other = newStore("other").store()) {
      for (ReplicaStore s : List.of(store, other)) {
        try (Batch batch = s.newBatch()) {
          batch.createCapsule(c.metadata);
          batch.commit();
        }
      }
      List<RecordWithBody> inA = new ArrayList<>(shared);
      inA.addAll(onlyA);
      storeDirectly(inA);
      try (Batch batch = other.newBatch()) {
        for (RecordWithBody r : shared) {
          batch.putRecord(r);
        }
        for (RecordWithBody r : onlyB) {
          batch.putRecord(r);
        }
        batch.commit();
      }
      List<RecordWithBody> union = new ArrayList<>(inA);
      union.addAll(onlyB);
      InMemoryDag model = model(c.id(), union);

      Reconciler.Config config = bloom ? Reconciler.Config.BASELINE : Reconciler.Config.DEFAULT;
      try (ReplicaDag a = new ReplicaDag(store, c.id(), ReplicaDag.Limits.DEFAULT);
          ReplicaDag b = new ReplicaDag(other, c.id(), ReplicaDag.Limits.DEFAULT)) {
        assertEquals(Reconciler.Outcome.CONVERGED, session(a, b, config));
        a.flush();
        b.flush();
        assertEquals(onlyB.size(), a.committed());
        assertEquals(onlyA.size(), b.committed());
        assertEquals(0, a.staged() + b.staged());
      }
      assertEquals(model.digest(), store.digest(c.id()));
      assertEquals(model.digest(), other.digest(c.id()));
      assertEquals(model.heads(), store.heads(c.id()));
      assertEquals(model.heads(), other.heads(c.id()));
      try (ReplicaDag a = new ReplicaDag(store, c.id(), ReplicaDag.Limits.DEFAULT);
          ReplicaDag b = new ReplicaDag(other, c.id(), ReplicaDag.Limits.DEFAULT)) {
        assertEquals(Reconciler.Outcome.EQUAL, session(a, b, config), "a second session finds nothing to do");
      }
    }
  }

  // ---- version-2 capsules: the objective rule, with the batch's membership records counted in order

  /** A version-2 capsule stored with {@code records} (built and validated on the capsule's side). */
  private V2Capsule storedV2(RecordWithBody... records) throws StorageException {
    return storedV2(new V2Capsule(SigningPolicy.EVERY_RECORD), records);
  }

  private V2Capsule storedV2(V2Capsule v, RecordWithBody... records) throws StorageException {
    try (Batch batch = store.newBatch()) {
      if (!store.hasCapsule(v.id())) {
        batch.createCapsule(v.metadata);
      }
      for (RecordWithBody r : records) {
        batch.putRecord(r);
      }
      batch.commit();
    }
    return v;
  }

  private ReplicaDag dag(V2Capsule v) throws StorageException {
    ReplicaDag dag = new ReplicaDag(store, v.id(), MANUAL);
    dags.add(dag);
    return dag;
  }

  private List<Hash> membershipRecords(V2Capsule v) throws StorageException {
    try (var snapshot = store.openSnapshot(v.id())) {
      return snapshot.membershipRecords();
    }
  }

  private static MemberChange setMember(SigningKey member, int bits) {
    return new MemberChange.SetMember(member.publicKey(), bits);
  }

  @Test
  void v2_aReplicaLearnsTheBatchsChangesBeforeJudgingTheRecordsAfterThem() throws Exception {
    V2Capsule v = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody r1 = v.appendOne(v.data(TestCapsule.WRITER, List.of(v.id()), "one"));
    storedV2(v, r1);
    // The peer holds more: a newcomer added, its record, then the writer removed.
    RecordWithBody added = v.appendOne(v.change(TestCapsule.CREATOR, List.of(r1.hash()),
        setMember(TestCapsule.STRANGER, Permissions.READ | Permissions.ADD)));
    RecordWithBody byNewcomer = v.appendOne(v.data(TestCapsule.STRANGER, List.of(added.hash()), "newcomer"));
    RecordWithBody removed = v.appendOne(v.change(TestCapsule.CREATOR, List.of(byNewcomer.hash()),
        setMember(TestCapsule.WRITER, 0)));
    ReplicaDag dag = dag(v);
    for (RecordWithBody r : List.of(removed, byNewcomer, added)) { // children first: staged until ready
      dag.offer(r);
    }
    assertEquals(3, dag.flush());
    assertTrue(store.holdsRecord(v.id(), byNewcomer.hash()));
    List<Hash> expected = new ArrayList<>(List.of(added.hash(), removed.hash()));
    Collections.sort(expected);
    assertEquals(expected, membershipRecords(v));
  }

  @Test
  void v2_aPeersRecordWhoseWriterLackedTheRightIsRefusedAsInvalid() throws Exception {
    V2Capsule v = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody r1 = v.appendOne(v.data(TestCapsule.WRITER, List.of(v.id()), "one"));
    RecordWithBody removed = v.appendOne(v.change(TestCapsule.CREATOR, List.of(r1.hash()),
        setMember(TestCapsule.WRITER, 0)));
    storedV2(v, r1, removed);
    Object before = dump();
    for (RecordWithBody bad : List.of(v.data(TestCapsule.WRITER, List.of(removed.hash()), "after removal"),
        v.data(TestCapsule.STRANGER, List.of(r1.hash()), "stranger"),
        v.change(TestCapsule.WRITER, List.of(r1.hash()), setMember(TestCapsule.STRANGER, Permissions.READ)))) {
      ReplicaDag dag = dag(v);
      dag.offer(bad); // the right depends on the records below: only a flush can tell
      InvalidPeerRecordException e = assertThrows(InvalidPeerRecordException.class, dag::flush);
      assertEquals(bad.hash(), e.record());
      assertEquals(Failure.WRITER_NOT_ALLOWED, e.failure());
      assertTrue(e.getMessage().contains(bad.record().header().writer().toHex()), e.getMessage());
      assertEquals(before, dump());
    }
  }

  @Test
  void v2_aRecordOnABranchOlderThanARemovalIsValidFromAPeer() throws Exception {
    V2Capsule v = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody r1 = v.appendOne(v.data(TestCapsule.WRITER, List.of(v.id()), "one"));
    RecordWithBody removed = v.appendOne(v.change(TestCapsule.CREATOR, List.of(r1.hash()),
        setMember(TestCapsule.WRITER, 0)));
    RecordWithBody beside = v.appendOne(v.data(TestCapsule.WRITER, List.of(r1.hash()), "beside the removal"));
    storedV2(v, r1, removed);
    ReplicaDag dag = dag(v);
    dag.offer(beside);
    assertEquals(1, dag.flush(), "judged by its own past, where the writer still held add");
    assertEquals(List.of(beside.hash(), removed.hash()).stream().sorted().toList(), store.heads(v.id()));
  }
}
