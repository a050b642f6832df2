package dev.capsulevm.host.store;

import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.host.sync.SyncDag;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StagedBatch;
import dev.capsulevm.vm.storage.StagedWrite;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StoragePayment;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.lmdbjava.Txn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Capsule storage in one LMDB environment per data directory. A {@link Snapshot} is one LMDB read
 * transaction; a {@link Batch} commits in one short write transaction, and commits are serialized. Stored
 * values are the canonical encodings from proofs (what is hashed and signed), parsed back on read; a
 * value that does not parse throws {@link StorageCorruptionException}. The databases and key layouts are
 * described in host/README.md. Thread-safe; each snapshot and batch is for one thread at a time.
 *
 * <p>A facade: {@link LmdbEnvironment} owns the environment (locks, map growth, transactions),
 * {@link CapsuleDatabases} the capsule databases and their caches, {@link DigestIndex} the set digests,
 * {@link LmdbSnapshot} a snapshot and {@link LmdbLedger} the accounts. {@link #close()} refuses while
 * snapshots are open; close them first.
 */
public final class LmdbCapsuleStorage implements ReplicaStore {
  private static final Logger log = LoggerFactory.getLogger(LmdbCapsuleStorage.class);
  /** The default map size: the most the data file may grow to. */
  public static final long DEFAULT_MAP_SIZE = 1L << 30;

  /** The default most the map may grow to when a commit fills it. */
  public static final long DEFAULT_MAX_MAP_SIZE = 16L << 30;

  /** The default most the charges journaled and not yet committed may add up to: 1 CAP. */
  public static final Amount DEFAULT_MAX_UNSYNCED = Amount.ofCap(1);

  /** How long after its first pending settlement the journal is committed at the latest. */
  static final Duration FLUSH_DELAY = Duration.ofSeconds(1);

  /** The default number of read transactions (snapshots and lookups) that may be open at once. */
  public static final int DEFAULT_MAX_READERS = 256;

  /** Every database name, in the order the store opens them. */
  static final List<String> DATABASES =
      Stream.concat(Layout.DATABASES.stream(), LmdbLedger.DATABASES.stream()).toList();

  /**
   * How commits reach the disk. Whatever is chosen, a crash of the host process (even SIGKILL) loses
   * nothing committed: LMDB writes each commit into the OS page cache before the commit returns. The
   * modes differ only when the operating system or the machine goes down.
   */
  public enum Durability {
    /** The default: every commit is flushed to disk before it returns; nothing committed is ever lost. */
    SYNC,
    /**
     * {@code MDB_NOMETASYNC}: data pages are flushed, the meta page is not; an OS crash may lose the
     * last commits (the store reopens at an earlier, consistent commit).
     */
    NO_META_SYNC,
    /**
     * {@code MDB_NOSYNC}: nothing is flushed by a commit (the OS writes back when it likes, or
     * {@link LmdbCapsuleStorage#sync()} forces it); an OS crash may lose every commit since the last
     * write-back. On a filesystem that keeps write order LMDB still reopens at a consistent commit;
     * otherwise the data file may be damaged.
     */
    NO_SYNC
  }

  private final LmdbEnvironment environment;
  private final CapsuleDatabases capsules;
  private final DigestIndex digests;
  private final GroupCommits groups;
  private final SettlementJournal journal;
  /** Commits the journal a little after its first pending settlement; started with the first ledger. */
  private @Nullable ScheduledExecutorService flusher;
  private boolean flushScheduled;
  /** The clock settlements prune expired nonces by: the ledger's ({@link #ledger}). */
  private volatile Clock ledgerClock = Clock.systemUTC();
  /** Told, after each commit that stored records, each capsule's lowest new height; null: nobody listens. */
  private volatile @Nullable BiConsumer<Hash, Long> recordsCommitted;
  /** Told, after each commit that stored records, each capsule's new record ids; null: nobody listens. */
  private volatile @Nullable BiConsumer<Hash, List<Hash>> recordsStored;

  private LmdbCapsuleStorage(LmdbEnvironment environment, SettlementJournal journal) {
    this.environment = environment;
    this.capsules = new CapsuleDatabases(environment);
    this.digests = new DigestIndex(environment);
    this.journal = journal;
    this.groups = new GroupCommits(environment, this::applyIn, new GroupCommits.Prelude() {
      @Override
      public boolean hasWork() {
        synchronized (journal) {
          return journal.pendingCount() != 0;
        }
      }

      @Override
      public Runnable apply(Txn<ByteBuffer> txn) {
        List<SettlementJournal.Entry> entries;
        synchronized (journal) {
          entries = journal.pendingEntries();
        }
        long last = SettlementJournal.applyAll(environment, txn, entries, ledgerClock.instant().getEpochSecond());
        return () -> {
          synchronized (journal) {
            journal.applied(last);
          }
        };
      }
    });
  }

  /**
   * Opens (creating when absent) the store in {@code directory} with the default map size, maximum map
   * size and readers.
   */
  public static LmdbCapsuleStorage open(Path directory) throws IOException {
    return open(directory, DEFAULT_MAP_SIZE, DEFAULT_MAX_MAP_SIZE, DEFAULT_MAX_READERS);
  }

  /**
   * Opens (creating when absent) the store in {@code directory}.
   *
   * @param mapSize the most bytes the data file may grow to; commits beyond it fail
   * @param maxReaders how many snapshots and lookups may be open at once
   */
  public static LmdbCapsuleStorage open(Path directory, long mapSize, int maxReaders) throws IOException {
    return open(directory, mapSize, mapSize, maxReaders);
  }

  /**
   * Opens (creating when absent) the store in {@code directory}, letting the map grow when a commit
   * fills it: see {@link Batch#commit()} on this store.
   *
   * @param mapSize the map size to open with
   * @param maxMapSize the most the map may grow to (at least {@code mapSize}; equal means never grow)
   * @param maxReaders how many snapshots and lookups may be open at once
   */
  public static LmdbCapsuleStorage open(Path directory, long mapSize, long maxMapSize, int maxReaders)
      throws IOException {
    return open(directory, mapSize, maxMapSize, maxReaders, Durability.SYNC);
  }

  /**
   * Opens (creating when absent) the store in {@code directory} like
   * {@link #open(Path, long, long, int)}, with commits reaching the disk as {@code durability} says.
   */
  public static LmdbCapsuleStorage open(Path directory, long mapSize, long maxMapSize, int maxReaders,
      Durability durability) throws IOException {
    LmdbEnvironment environment = LmdbEnvironment.open(directory, mapSize, maxMapSize, maxReaders, durability,
        DATABASES);
    SettlementJournal journal;
    try {
      journal = SettlementJournal.open(directory, environment, Clock.systemUTC().instant().getEpochSecond());
    } catch (IOException | RuntimeException e) {
      environment.close();
      throw e;
    }
    LmdbCapsuleStorage storage = new LmdbCapsuleStorage(environment, journal);
    try {
      storage.digests.addMissing(storage.environment, storage.capsules);
    } catch (RuntimeException e) {
      storage.close();
      throw e;
    }
    return storage;
  }

  /** The current map size: the most the data file may grow to before the next growth. */
  public long mapSize() {
    return environment.mapSize();
  }

  // ---- CapsuleStorage

  @Override
  public Snapshot openSnapshot(Hash capsuleId) throws StorageException {
    return LmdbSnapshot.open(environment, capsules, capsuleId);
  }

  @Override
  public Batch newBatch() {
    return new StagedBatch(this::apply, true);
  }

  @Override
  public boolean hasCapsule(Hash capsuleId) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    environment.ensureOpen();
    return capsules.cachedMetadataOrNull(capsuleId) != null
        || environment.read(txn -> capsules.hasCapsule(txn, capsuleId));
  }

  @Override
  public @Nullable RecordHeader headerByHashOrNull(Hash recordHash) {
    Record record = recordByHashOrNull(recordHash);
    return record == null ? null : record.header();
  }

  @Override
  public @Nullable Record recordByHashOrNull(Hash recordHash) {
    Objects.requireNonNull(recordHash, "recordHash");
    environment.ensureOpen();
    Record cached = capsules.cachedRecordOrNull(recordHash);
    return cached != null ? cached : environment.read(txn -> capsules.recordOrNull(txn, recordHash));
  }

  // ---- ReplicaStore: each call is one short read transaction

  @Override
  public @Nullable SignedMetadata metadataOrNull(Hash capsuleId) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    SignedMetadata cached = capsules.cachedMetadataOrNull(capsuleId);
    if (cached != null) {
      environment.ensureOpen();
      return cached;
    }
    return environment.read(txn -> capsules.hasCapsule(txn, capsuleId) ? capsules.metadataOf(txn, capsuleId) : null);
  }

  @Override
  public List<Hash> capsuleIds() {
    return environment.read(capsules::capsuleIds);
  }

  @Override
  public long capsuleCount() {
    return environment.read(capsules::capsuleCount);
  }

  /** {@inheritDoc} Kept with every commit, so this reads 40 bytes. */
  @Override
  public SetDigest digest(Hash capsuleId) throws StorageException {
    Objects.requireNonNull(capsuleId, "capsuleId");
    SetDigest digest =
        environment.read(txn -> capsules.hasCapsule(txn, capsuleId) ? digests.read(txn, capsuleId) : null);
    if (digest == null) {
      throw new StorageException(Reason.UNKNOWN_CAPSULE, "no capsule " + capsuleId.toHex());
    }
    return digest;
  }

  /**
   * {@inheritDoc} The ids are read in place from the keys of {@code heights}, in height order, all in
   * one read transaction: no object per record.
   */
  @Override
  public void forEachRecordId(Hash capsuleId, SyncDag.LimbConsumer action) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(action, "action");
    environment.read(txn -> {
      capsules.forEachRecordId(txn, capsuleId, action);
      return null;
    });
  }

  @Override
  public boolean holdsRecord(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(recordHash, "recordHash");
    return environment.read(txn -> capsules.holds(txn, capsuleId, recordHash));
  }

  @Override
  public @Nullable List<Hash> parentsOrNull(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(recordHash, "recordHash");
    return environment.read(txn -> {
      Record record = capsules.recordOfOrNull(txn, capsuleId, recordHash);
      return record == null ? null : record.header().parents();
    });
  }

  @Override
  public List<Hash> heads(Hash capsuleId) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    return environment.read(txn -> capsules.heads(txn, capsuleId));
  }

  @Override
  public @Nullable RecordWithBody recordWithBodyOrNull(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(recordHash, "recordHash");
    return environment.read(txn -> {
      Record record = capsules.recordOfOrNull(txn, capsuleId, recordHash);
      return record == null ? null : capsules.withBody(txn, record);
    });
  }

  // ---- commits

  /**
   * After each commit that stores new records, calls {@code listener} once per capsule with the lowest
   * height among them (the host's retention runs after commits); replaces any listener set before.
   */
  public void onRecordsCommitted(@Nullable BiConsumer<Hash, Long> listener) {
    this.recordsCommitted = listener;
  }

  @Override
  public void onRecordsStored(@Nullable BiConsumer<Hash, List<Hash>> listener) {
    this.recordsStored = listener;
  }

  /**
   * Commits a batch's writes atomically, group-committed with the batches of other threads waiting at the
   * same moment ({@link GroupCommits}): one write transaction, one sync, for all of them.
   */
  private void apply(List<StagedWrite> writes) throws StorageException {
    groups.commit(writes);
  }

  /** Applies one batch's writes inside {@code txn}; returns what to tell once that transaction committed. */
  private Runnable applyIn(Txn<ByteBuffer> txn, List<StagedWrite> writes) throws StorageException {
    Commit commit = new Commit(txn, ledgerClock.instant().getEpochSecond());
    for (StagedWrite write : writes) {
      write.applyTo(commit);
    }
    return () -> {
      commit.created.forEach(capsules::created);
      BiConsumer<Hash, Long> listener = recordsCommitted;
      if (listener != null) {
        commit.lowestNewHeight.forEach(listener);
      }
      BiConsumer<Hash, List<Hash>> stored = recordsStored;
      if (stored != null) {
        commit.newIds.forEach(stored);
      }
    };
  }

  /**
   * Write transactions committed by this store's batches so far, and the batches they held (more batches
   * than transactions: group commit at work).
   */
  public long[] commitCounts() {
    return groups.counts();
  }

  /** How many batches wait to be committed now. */
  int waitingCommits() {
    return groups.waiting();
  }

  /** A batch's writes inside its write transaction: the records, the heads, the digests and the settlements. */
  private final class Commit implements StagedWrite.Target {
    private final Txn<ByteBuffer> txn;
    private final long nowSecond;
    /** Kept parsed once the transaction commits. */
    final List<SignedMetadata> created = new ArrayList<>();
    /** Per capsule that got new records, the lowest height among them. */
    final Map<Hash, Long> lowestNewHeight = new HashMap<>();
    /** Per capsule that got new records, their ids. */
    final Map<Hash, List<Hash>> newIds = new HashMap<>();

    Commit(Txn<ByteBuffer> txn, long nowSecond) {
      this.txn = txn;
      this.nowSecond = nowSecond;
    }

    @Override
    public void createCapsule(SignedMetadata metadata) throws StorageException {
      capsules.create(txn, metadata);
      digests.start(txn, metadata.capsuleId());
      created.add(metadata);
    }

    /** A record the store holds already returns before the digest, so concurrent commits count it once. */
    @Override
    public void putRecord(RecordWithBody record, @Nullable StoragePayment paymentOrNull) throws StorageException {
      if (capsules.put(txn, record, paymentOrNull)) {
        digests.add(txn, record.record().header().capsuleId(), record.hash());
        lowestNewHeight.merge(record.record().header().capsuleId(), record.record().header().height(), Math::min);
        newIds.computeIfAbsent(record.record().header().capsuleId(), k -> new ArrayList<>()).add(record.hash());
      }
    }

    /** The credit goes with the drop: a record already dropped credits nothing again. */
    @Override
    public void dropPayloads(StagedWrite.DropPayloads drop) throws StorageException {
      CapsuleDatabases.Dropped done = capsules.drop(txn, drop.capsuleId(), drop.recordHash(), drop.witness());
      PublicKey account = drop.creditAccountOrNull();
      if (done.now() && account != null && drop.credit().units() != 0) {
        LmdbLedger.creditStorage(environment, txn, account, drop.credit());
      }
    }

    @Override
    public void settle(Settlement settlement) throws StorageException {
      LmdbLedger.settle(environment, txn, settlement, nowSecond);
    }
  }

  // ---- the environment

  /**
   * A {@link dev.capsulevm.pricing.Ledger} kept in this store's environment (databases {@code accounts},
   * {@code nonces}, {@code nonce-expiry} and {@code settlement-journal}), so its state is as durable as the
   * records and a batch's settlements land in it atomically with the batch's writes. The settlement of a
   * program that wrote nothing goes to the store's settlement journal first ({@link LmdbLedger#settle}), at
   * most {@code maxUnsynced} of charges at a time. From now on every batch's settlement prunes expired
   * nonces by {@code clock}.
   *
   * @param maxBalance deposits above it are refused (the price table's maximum balance)
   * @param maxUnsynced the most the journaled charges not yet committed may add up to (a host passes its
   *     {@code maxUncommittedRisk})
   */
  public LmdbLedger ledger(Clock clock, Amount maxBalance, Amount maxUnsynced) {
    environment.ensureOpen();
    ledgerClock = clock;
    return new LmdbLedger(environment, this::apply, journal, this::flushJournal, this::flushSoon, clock, maxBalance,
        maxUnsynced);
  }

  /** {@link #ledger(Clock, Amount, Amount)} with at most {@link #DEFAULT_MAX_UNSYNCED} of unsynced charges. */
  public LmdbLedger ledger(Clock clock, Amount maxBalance) {
    return ledger(clock, maxBalance, DEFAULT_MAX_UNSYNCED);
  }

  /** Commits the settlement journal {@link #FLUSH_DELAY} from now, unless a commit is already due. */
  private void flushSoon() {
    synchronized (journal) {
      if (flushScheduled) {
        return;
      }
      ScheduledExecutorService scheduler = flusher;
      if (scheduler == null) {
        scheduler = Executors.newSingleThreadScheduledExecutor(runnable -> {
          Thread thread = new Thread(runnable, "settlement-journal-flush");
          thread.setDaemon(true);
          return thread;
        });
        flusher = scheduler;
      }
      flushScheduled = true;
      Future<?> unused = scheduler.schedule(this::flushJournal, FLUSH_DELAY.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** Commits the settlements journaled so far (one write transaction), if there are any. */
  void flushJournal() {
    synchronized (journal) {
      flushScheduled = false;
      if (journal.pendingCount() == 0) {
        return;
      }
    }
    try {
      groups.commit(List.of());
    } catch (StorageException | RuntimeException e) {
      log.warn("the journaled settlements were not committed now; they stay in the journal: {}", e.toString());
    }
  }

  /** Forces every commit so far to disk (useful with {@link Durability#NO_SYNC}). */
  public void sync() {
    environment.sync();
  }

  /** How commits reach the disk. */
  public Durability durability() {
    return environment.durability();
  }

  /**
   * Every key and value of every database of the environment, in hex, database by database, read in one
   * transaction: what tests compare to show that nothing changed. A database the environment holds but
   * this store does not know is listed too, with a placeholder entry.
   */
  public SortedMap<String, SortedMap<String, String>> dump() {
    flushJournal(); // so the dump holds every settlement the ledger took
    return environment.dump();
  }

  /**
   * Closes the environment. Refuses ({@link IllegalStateException}) while snapshots are open; waits for
   * a commit or lookup in progress. Closing twice does nothing.
   */
  @Override
  public void close() {
    if (!environment.isClosed()) {
      flushJournal(); // so a store closed cleanly leaves an empty journal behind
    }
    environment.close(); // refused while snapshots are open: the store then stays as it was
    ScheduledExecutorService scheduler;
    synchronized (journal) {
      scheduler = flusher;
      flusher = null;
    }
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
    try {
      journal.close();
    } catch (IOException e) {
      log.warn("closing the settlement journal: {}", e.toString());
    }
  }
}
