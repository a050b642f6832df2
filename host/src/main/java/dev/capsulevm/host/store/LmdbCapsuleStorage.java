package dev.capsulevm.host.store;

import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.host.sync.SyncDag;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.AmountOverflowException;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.merkle.MerkleTree;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import dev.capsulevm.vm.storage.StagedBatch;
import dev.capsulevm.vm.storage.StagedWrite;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.CursorIterable.KeyVal;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;

/**
 * Capsule storage in one LMDB environment per data directory. A {@link Snapshot} is one LMDB read
 * transaction; a {@link Batch} commits in one short write transaction, and commits are serialized. Stored
 * values are the canonical encodings from proofs (what is hashed and signed), parsed back on read; a
 * value that does not parse throws {@link StorageCorruptionException}. The databases and key layouts are
 * described in host/README.md. Thread-safe; each snapshot and batch is for one thread at a time.
 *
 * <p>{@link #close()} refuses while snapshots are open; close them first.
 */
public final class LmdbCapsuleStorage implements CapsuleStorage, AutoCloseable {
  /** The default map size: the most the data file may grow to. */
  public static final long DEFAULT_MAP_SIZE = 1L << 30;

  /** The default most the map may grow to when a commit fills it. */
  public static final long DEFAULT_MAX_MAP_SIZE = 16L << 30;

  /** The default number of read transactions (snapshots and lookups) that may be open at once. */
  public static final int DEFAULT_MAX_READERS = 256;

  /** Metadata by capsule id (32): {@link SignedMetadata#encoded()}. */
  static final String DB_METADATA = "metadata";
  /** Records by record hash (32): signed flag (u8), signature (64, when signed), header encoding. */
  static final String DB_RECORDS = "records";
  /** Sub-record payloads by record hash (32) then index (u64 big-endian). */
  static final String DB_BODIES = "bodies";
  /**
   * Each record's Merkle tree over its sub-records, by record hash (32): {@link MerkleTree#encodedLevels()}
   * (the leaf hashes, then every level of aligned subtree roots), written with the record so that a
   * sub-record proof reads O(log n) hashes instead of rehashing every payload.
   */
  static final String DB_TREES = "trees";
  /** Empty values under capsule id (32), height (u64 big-endian), record hash (32). */
  static final String DB_HEIGHTS = "heights";
  /** Empty values under capsule id (32), record hash (32): the capsule's heads. */
  static final String DB_HEADS = "heads";
  /** Capsule id (32) by record hash (32). */
  static final String DB_RECORD_CAPSULE = "record-capsule";
  /**
   * Each capsule's set digest by capsule id (32): the sum of its record hashes as 256-bit big-endian
   * integers mod 2^256 (32) then their count (u64), {@link SetDigest}'s sum and count, moved by every new
   * record in the commit that stores it, so a sync session's quick check reads 40 bytes.
   */
  static final String DB_DIGESTS = "digests";
  /** The ledger: balance (u64 big-endian) by account public key (32). */
  static final String DB_ACCOUNTS = "accounts";
  /** The ledger's used nonces: withdrawal expiry (epoch second, u64) by account (32), nonce (u64). */
  static final String DB_NONCES = "nonces";
  /** The same nonces in expiry order, for pruning: empty values under expiry (u64), account (32), nonce (u64). */
  static final String DB_NONCE_EXPIRY = "nonce-expiry";
  /** Every database name, in the order the store opens them. */
  static final List<String> DATABASES = List.of(DB_METADATA, DB_RECORDS, DB_BODIES, DB_TREES, DB_HEIGHTS,
      DB_HEADS, DB_RECORD_CAPSULE, DB_DIGESTS, DB_ACCOUNTS, DB_NONCES, DB_NONCE_EXPIRY);

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

  private static final byte UNSIGNED = 0;
  private static final byte SIGNED = 1;
  private static final HexFormat HEX = HexFormat.of();

  private final Env<ByteBuffer> env;
  private final Dbi<ByteBuffer> metadata;
  private final Dbi<ByteBuffer> records;
  private final Dbi<ByteBuffer> bodies;
  private final Dbi<ByteBuffer> trees;
  private final Dbi<ByteBuffer> heights;
  private final Dbi<ByteBuffer> heads;
  private final Dbi<ByteBuffer> recordCapsule;
  private final Dbi<ByteBuffer> digests;
  final Dbi<ByteBuffer> accounts;
  final Dbi<ByteBuffer> nonces;
  final Dbi<ByteBuffer> nonceExpiry;
  private final Map<String, Dbi<ByteBuffer>> byName;
  private final Durability durability;

  /** Held by every operation but a snapshot's reads; close() takes the write side. */
  private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
  /** One committer at a time. Never taken while this thread waits for a read transaction. */
  private final ReentrantLock writer = new ReentrantLock();
  private final AtomicInteger openSnapshots = new AtomicInteger();
  /** The most the map may grow to; equal to the opening map size when growth is off. */
  private final long maxMapSize;
  /** Metadata never changes once stored, so parsed (signature-checked) copies are kept. */
  private final Map<Hash, SignedMetadata> metadataCache = new ConcurrentHashMap<>();
  private volatile boolean closed;

  private LmdbCapsuleStorage(Path directory, long mapSize, long maxMapSize, int maxReaders, Durability durability)
      throws IOException {
    this.maxMapSize = maxMapSize;
    this.durability = durability;
    Files.createDirectories(directory);
    // MDB_NOTLS: a read transaction is not tied to its thread, so one thread may hold several snapshots
    // and hand a snapshot to another thread.
    List<EnvFlags> flags = new ArrayList<>(List.of(EnvFlags.MDB_NOTLS));
    if (durability == Durability.NO_META_SYNC) {
      flags.add(EnvFlags.MDB_NOMETASYNC);
    } else if (durability == Durability.NO_SYNC) {
      flags.add(EnvFlags.MDB_NOSYNC);
    }
    env = Env.create()
        .setMapSize(mapSize)
        .setMaxDbs(DATABASES.size() + 7) // room for databases to come
        .setMaxReaders(maxReaders)
        .open(directory.toFile(), flags.toArray(new EnvFlags[0]));
    try {
      metadata = env.openDbi(DB_METADATA, DbiFlags.MDB_CREATE);
      records = env.openDbi(DB_RECORDS, DbiFlags.MDB_CREATE);
      bodies = env.openDbi(DB_BODIES, DbiFlags.MDB_CREATE);
      trees = env.openDbi(DB_TREES, DbiFlags.MDB_CREATE);
      heights = env.openDbi(DB_HEIGHTS, DbiFlags.MDB_CREATE);
      heads = env.openDbi(DB_HEADS, DbiFlags.MDB_CREATE);
      recordCapsule = env.openDbi(DB_RECORD_CAPSULE, DbiFlags.MDB_CREATE);
      digests = env.openDbi(DB_DIGESTS, DbiFlags.MDB_CREATE);
      accounts = env.openDbi(DB_ACCOUNTS, DbiFlags.MDB_CREATE);
      nonces = env.openDbi(DB_NONCES, DbiFlags.MDB_CREATE);
      nonceExpiry = env.openDbi(DB_NONCE_EXPIRY, DbiFlags.MDB_CREATE);
      byName = Map.ofEntries(Map.entry(DB_METADATA, metadata), Map.entry(DB_RECORDS, records),
          Map.entry(DB_BODIES, bodies), Map.entry(DB_TREES, trees), Map.entry(DB_HEIGHTS, heights),
          Map.entry(DB_HEADS, heads), Map.entry(DB_RECORD_CAPSULE, recordCapsule), Map.entry(DB_DIGESTS, digests),
          Map.entry(DB_ACCOUNTS, accounts), Map.entry(DB_NONCES, nonces), Map.entry(DB_NONCE_EXPIRY, nonceExpiry));
    } catch (RuntimeException e) {
      env.close();
      throw e;
    }
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
    Objects.requireNonNull(directory, "directory");
    Objects.requireNonNull(durability, "durability");
    if (mapSize <= 0 || maxReaders <= 0) {
      throw new IllegalArgumentException("map size and max readers must be positive");
    }
    if (maxMapSize < mapSize) {
      throw new IllegalArgumentException("the maximum map size is below the map size");
    }
    LmdbCapsuleStorage storage = new LmdbCapsuleStorage(directory, mapSize, maxMapSize, maxReaders, durability);
    try {
      storage.addMissingDigests();
    } catch (RuntimeException e) {
      storage.close();
      throw e;
    }
    return storage;
  }

  /** The current map size: the most the data file may grow to before the next growth. */
  public long mapSize() {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      return env.info().mapSize;
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  // ---- CapsuleStorage

  @Override
  public Snapshot openSnapshot(Hash capsuleId) throws StorageException {
    Objects.requireNonNull(capsuleId, "capsuleId");
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      Txn<ByteBuffer> txn = env.txnRead();
      try {
        if (metadata.get(txn, key(capsuleId)) == null) {
          throw new StorageException(Reason.UNKNOWN_CAPSULE, "no capsule " + capsuleId.toHex());
        }
        openSnapshots.incrementAndGet();
        return new LmdbSnapshot(capsuleId, txn);
      } catch (StorageException | RuntimeException e) {
        txn.close();
        throw e;
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public Batch newBatch() {
    return new StagedBatch(this::apply, true);
  }

  @Override
  public boolean hasCapsule(Hash capsuleId) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    ensureOpen();
    if (metadataCache.containsKey(capsuleId)) {
      return true;
    }
    lifecycle.readLock().lock();
    try (Txn<ByteBuffer> txn = readTxn()) {
      return metadata.get(txn, key(capsuleId)) != null;
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  @Override
  public RecordHeader headerByHashOrNull(Hash recordHash) {
    Record record = recordByHashOrNull(recordHash);
    return record == null ? null : record.header();
  }

  @Override
  public Record recordByHashOrNull(Hash recordHash) {
    Objects.requireNonNull(recordHash, "recordHash");
    ensureOpen();
    Record cached = parsedRecords.get(recordHash);
    if (cached != null) {
      return cached;
    }
    lifecycle.readLock().lock();
    try (Txn<ByteBuffer> txn = readTxn()) {
      return recordOrNull(txn, recordHash);
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  // ---- what replication reads: each call is one short read transaction

  /** The capsule's signed metadata, or null when it is not stored. */
  public SignedMetadata metadataOrNull(Hash capsuleId) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    SignedMetadata cached = metadataCache.get(capsuleId);
    if (cached != null) {
      ensureOpen();
      return cached;
    }
    return read(txn -> metadata.get(txn, readKey(capsuleId)) == null ? null : metadataOf(txn, capsuleId));
  }

  /** The ids of the stored capsules, sorted. */
  public List<Hash> capsuleIds() {
    return read(txn -> {
      List<Hash> out = new ArrayList<>();
      try (CursorIterable<ByteBuffer> cursor = metadata.iterate(txn, KeyRange.all())) {
        for (KeyVal<ByteBuffer> entry : cursor) {
          out.add(Hash.copyOf(copyOut(entry.key())));
        }
      }
      return Collections.unmodifiableList(out);
    });
  }

  /** How many capsules are stored. */
  public long capsuleCount() {
    return read(txn -> metadata.stat(txn).entries);
  }

  /**
   * The set digest of the capsule's records (the sum of their hashes and their count), kept with every
   * commit, so this reads 40 bytes.
   *
   * @throws StorageException UNKNOWN_CAPSULE when the capsule is not stored
   */
  public SetDigest digest(Hash capsuleId) throws StorageException {
    Objects.requireNonNull(capsuleId, "capsuleId");
    SetDigest digest = read(txn -> metadata.get(txn, readKey(capsuleId)) == null ? null : digestOf(txn, capsuleId));
    if (digest == null) {
      throw new StorageException(Reason.UNKNOWN_CAPSULE, "no capsule " + capsuleId.toHex());
    }
    return digest;
  }

  /**
   * Calls {@code action} with the hash of every record of the capsule (none when it is not stored), as
   * limbs read in place from the keys of {@code heights}, in height order, all in one read transaction:
   * no object per record. The action runs inside that transaction, so it must be quick and must not
   * wait for another thread's read or write of this store.
   */
  public void forEachRecordId(Hash capsuleId, SyncDag.LimbConsumer action) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(action, "action");
    read(txn -> {
      forEachIdUnder(txn, capsuleId, action);
      return null;
    });
  }

  /** Whether capsule {@code capsuleId} holds record {@code recordHash}. */
  public boolean holdsRecord(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(recordHash, "recordHash");
    return read(txn -> holds(txn, capsuleId, recordHash));
  }

  /** The parents of record {@code recordHash} in header order, or null when {@code capsuleId} does not hold it. */
  public List<Hash> parentsOrNull(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(recordHash, "recordHash");
    return read(txn -> {
      Record record = recordOfOrNull(txn, capsuleId, recordHash);
      return record == null ? null : record.header().parents();
    });
  }

  /** The capsule's heads, sorted; empty before its first record or when it is not stored. */
  public List<Hash> heads(Hash capsuleId) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    return read(txn -> hashesUnder(txn, heads, DB_HEADS, capsuleId.toByteArray()));
  }

  /**
   * Record {@code recordHash} of capsule {@code capsuleId} with its signature and sub-records (what a
   * peer is sent), or null when the capsule does not hold it.
   */
  public RecordWithBody recordWithBodyOrNull(Hash capsuleId, Hash recordHash) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(recordHash, "recordHash");
    return read(txn -> {
      Record record = recordOfOrNull(txn, capsuleId, recordHash);
      if (record == null) {
        return null;
      }
      long count = record.header().subRecordCount();
      List<byte[]> payloads = new ArrayList<>((int) Math.min(count, 1 << 16));
      for (long i = 0; i < count; i++) {
        ByteBuffer stored = bodies.get(txn, readKey(recordHash, i));
        if (stored == null) {
          throw new StorageCorruptionException("database " + DB_BODIES + " lacks key "
              + HEX.formatHex(prefix(recordHash, i)) + " (record " + recordHash.toHex() + ", sub-record " + i + ")");
        }
        payloads.add(copyOut(stored));
      }
      return new RecordWithBody(record, payloads);
    });
  }

  /** Whether {@code capsuleId} holds {@code recordHash}: its record-capsule value, compared in place. */
  private boolean holds(Txn<ByteBuffer> txn, Hash capsuleId, Hash recordHash) {
    ByteBuffer owner = recordCapsule.get(txn, readKey(recordHash));
    if (owner == null) {
      return false;
    }
    if (owner.remaining() != Hash.LENGTH) {
      throw new StorageCorruptionException("database " + DB_RECORD_CAPSULE + ", key " + recordHash.toHex()
          + ": value is " + owner.remaining() + " bytes, not a capsule id");
    }
    int at = owner.position();
    for (int i = 0; i < Hash.LENGTH; i++) {
      if (owner.get(at + i) != capsuleId.byteAt(i)) {
        return false;
      }
    }
    return true;
  }

  private Record recordOfOrNull(Txn<ByteBuffer> txn, Hash capsuleId, Hash recordHash) {
    if (!holds(txn, capsuleId, recordHash)) {
      return null;
    }
    Record record = recordOrNull(txn, recordHash);
    if (record == null) {
      throw new StorageCorruptionException("database " + DB_RECORDS + " lacks key " + recordHash.toHex()
          + ", which " + DB_RECORD_CAPSULE + " holds");
    }
    return record;
  }

  /** The capsule's record hashes from its {@code heights} keys, as limbs read in place. */
  private static void forEachIdUnder(Txn<ByteBuffer> txn, Dbi<ByteBuffer> heights, Hash capsuleId,
      SyncDag.LimbConsumer action) {
    byte[] prefix = capsuleId.toByteArray();
    int keyLength = Hash.LENGTH + Long.BYTES + Hash.LENGTH;
    try (CursorIterable<ByteBuffer> cursor = heights.iterate(txn, KeyRange.atLeast(direct(prefix)))) {
      for (KeyVal<ByteBuffer> entry : cursor) {
        ByteBuffer key = entry.key();
        int at = key.position();
        if (!startsWith(key, prefix)) {
          break;
        }
        if (key.remaining() != keyLength) {
          byte[] bad = copyOut(key);
          throw new StorageCorruptionException(
              "database " + DB_HEIGHTS + ", key " + HEX.formatHex(bad) + ": wrong key length " + bad.length);
        }
        int h = at + Hash.LENGTH + Long.BYTES;
        action.accept(longAt(key, h), longAt(key, h + 8), longAt(key, h + 16), longAt(key, h + 24));
      }
    }
  }

  private void forEachIdUnder(Txn<ByteBuffer> txn, Hash capsuleId, SyncDag.LimbConsumer action) {
    forEachIdUnder(txn, heights, capsuleId, action);
  }

  private static boolean startsWith(ByteBuffer key, byte[] prefix) {
    if (key.remaining() < prefix.length) {
      return false;
    }
    int at = key.position();
    for (int i = 0; i < prefix.length; i++) {
      if (key.get(at + i) != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  /** The big-endian u64 at {@code at}, by absolute index whatever the buffer's byte order. */
  private static long longAt(ByteBuffer buffer, int at) {
    long v = 0;
    for (int i = 0; i < Long.BYTES; i++) {
      v = (v << 8) | (buffer.get(at + i) & 0xff);
    }
    return v;
  }

  /** The kept digest of a stored capsule. */
  private SetDigest digestOf(Txn<ByteBuffer> txn, Hash capsuleId) {
    ByteBuffer stored = digests.get(txn, readKey(capsuleId));
    if (stored == null) {
      throw new StorageCorruptionException(
          "database " + DB_DIGESTS + " lacks key " + capsuleId.toHex() + ", which " + DB_METADATA + " holds");
    }
    if (stored.remaining() != DIGEST_LENGTH) {
      throw new StorageCorruptionException("database " + DB_DIGESTS + ", key " + capsuleId.toHex()
          + ": value is " + stored.remaining() + " bytes, not a digest");
    }
    byte[] sum = new byte[Hash.LENGTH];
    stored.get(stored.position(), sum);
    long count = longAt(stored, stored.position() + Hash.LENGTH);
    if (count < 0) {
      throw new StorageCorruptionException("database " + DB_DIGESTS + ", key " + capsuleId.toHex()
          + ": negative count " + count);
    }
    return SetDigest.of(sum, count);
  }

  private void putDigest(Txn<ByteBuffer> txn, Hash capsuleId, SetDigest digest) {
    ByteBuffer value = ByteBuffer.allocateDirect(DIGEST_LENGTH);
    value.put(digest.sumBytes()).putLong(digest.count()).flip();
    digests.put(txn, key(capsuleId), value);
  }

  /** A digest value: sum (32) then count (u64). */
  private static final int DIGEST_LENGTH = Hash.LENGTH + Long.BYTES;

  /**
   * Computes, from {@code heights}, the digest of every capsule that has none: a store written before
   * digests were kept gets them once, on its first open by this version, in one write transaction.
   */
  private void addMissingDigests() {
    List<Hash> missing = read(txn -> {
      List<Hash> out = new ArrayList<>();
      try (CursorIterable<ByteBuffer> cursor = metadata.iterate(txn, KeyRange.all())) {
        for (KeyVal<ByteBuffer> entry : cursor) {
          Hash id = Hash.copyOf(copyOut(entry.key()));
          if (digests.get(txn, readKey(id)) == null) {
            out.add(id);
          }
        }
      }
      return out;
    });
    if (missing.isEmpty()) {
      return;
    }
    write(txn -> {
      byte[] id = new byte[Hash.LENGTH];
      for (Hash capsuleId : missing) {
        SetDigest digest = new SetDigest();
        forEachIdUnder(txn, capsuleId, (l0, l1, l2, l3) -> {
          ByteBuffer.wrap(id).putLong(l0).putLong(l1).putLong(l2).putLong(l3);
          digest.add(Hash.copyOf(id));
        });
        putDigest(txn, capsuleId, digest);
      }
      return null;
    });
  }

  /** Deletes the capsule's digest, as a store written before digests were kept lacks it: for tests. */
  void forgetDigestForTest(Hash capsuleId) {
    write(txn -> digests.delete(txn, key(capsuleId)));
  }

  /**
   * Closes the environment. Refuses ({@link IllegalStateException}) while snapshots are open; waits for
   * a commit or lookup in progress. Closing twice does nothing.
   */
  @Override
  public void close() {
    lifecycle.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      int open = openSnapshots.get();
      if (open != 0) {
        throw new IllegalStateException("cannot close the store: " + open + " snapshot(s) still open");
      }
      closed = true;
      env.close();
    } finally {
      lifecycle.writeLock().unlock();
    }
  }

  // ---- reads (every buffer LMDB returns is copied at once: it is valid only inside its transaction)

  /** Opens a read transaction; the caller holds the lifecycle read lock. */
  private Txn<ByteBuffer> readTxn() {
    ensureOpen();
    return env.txnRead();
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the store is closed");
    }
  }

  private static byte[] getOrNull(Txn<ByteBuffer> txn, Dbi<ByteBuffer> dbi, ByteBuffer key) {
    ByteBuffer value = dbi.get(txn, key);
    return value == null ? null : copy(value);
  }

  private SignedMetadata metadataOf(Txn<ByteBuffer> txn, Hash capsuleId) {
    SignedMetadata cached = metadataCache.get(capsuleId);
    if (cached != null) {
      return cached;
    }
    byte[] stored = getOrNull(txn, metadata, key(capsuleId));
    if (stored == null) {
      throw new StorageCorruptionException(
          "database " + DB_METADATA + " lost key " + capsuleId.toHex() + " under an open snapshot");
    }
    SignedMetadata parsed;
    try {
      parsed = SignedMetadata.parse(stored, capsuleId);
    } catch (VerificationException e) {
      throw corrupt(DB_METADATA, capsuleId.toByteArray(), e);
    }
    metadataCache.put(capsuleId, parsed);
    return parsed;
  }

  private Hash capsuleOfOrNull(Txn<ByteBuffer> txn, Hash recordHash) {
    byte[] stored = getOrNull(txn, recordCapsule, key(recordHash));
    if (stored == null) {
      return null;
    }
    if (stored.length != Hash.LENGTH) {
      throw new StorageCorruptionException("database " + DB_RECORD_CAPSULE + ", key " + recordHash.toHex()
          + ": value is " + stored.length + " bytes, not a capsule id");
    }
    return Hash.copyOf(stored);
  }

  /**
   * Parsed records by hash, shared by all reads. A record is stored under its own hash and never
   * changes or goes away once committed (this store deletes nothing), so a parsed copy stays right; a
   * read still finds it only after its own transaction showed the record (a snapshot checks
   * {@code record-capsule} first), so snapshots never see later commits through it. Parsing is what
   * reading a header costs: the proofs parser decodes the writer's Ed25519 point and hashes the header
   * (checked against the key), and every proof walks the headers near the head again. Bounded: emptied
   * when it reaches {@link #PARSED_RECORDS}. (When deletion comes, it must remove entries here.)
   */
  private final Map<Hash, Record> parsedRecords = new ConcurrentHashMap<>();

  /** The most records {@link #parsedRecords} holds before it is emptied. */
  private static final int PARSED_RECORDS = 1 << 14;

  private Record recordOrNull(Txn<ByteBuffer> txn, Hash recordHash) {
    Record cached = parsedRecords.get(recordHash);
    if (cached != null) {
      return cached;
    }
    ByteBuffer stored = records.get(txn, readKey(recordHash));
    if (stored == null) {
      return null;
    }
    Record record = decodeRecord(recordHash, stored);
    if (parsedRecords.size() >= PARSED_RECORDS) {
      parsedRecords.clear();
    }
    parsedRecords.put(recordHash, record);
    return record;
  }

  static Record decodeRecord(Hash recordHash, byte[] stored) {
    return decodeRecord(recordHash, ByteBuffer.wrap(stored));
  }

  /**
   * Parses a stored record value in place: {@code stored} may be LMDB's memory (valid only inside its
   * transaction), so everything the returned record holds is copied out of it here, straight into the
   * arrays the record keeps (the header bytes once into the array {@link RecordHeader#parse} reads, the
   * signature once), with no intermediate copy of the whole value. Reads by absolute index and leaves
   * {@code stored} untouched.
   */
  static Record decodeRecord(Hash recordHash, ByteBuffer stored) {
    try {
      int at = stored.position();
      int length = stored.remaining();
      if (length < 1) {
        throw new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, "empty value");
      }
      byte flag = stored.get(at);
      Signature signature = null;
      int headerAt = 1;
      if (flag == SIGNED) {
        if (length < 1 + Signature.LENGTH) {
          throw new VerificationException(
              VerificationException.Failure.MALFORMED_ENCODING, "value too short for its signature");
        }
        byte[] signatureBytes = new byte[Signature.LENGTH];
        stored.get(at + 1, signatureBytes);
        signature = Signature.copyOf(signatureBytes);
        headerAt += Signature.LENGTH;
      } else if (flag != UNSIGNED) {
        throw new VerificationException(
            VerificationException.Failure.MALFORMED_ENCODING, "unknown record flag " + flag);
      }
      byte[] headerBytes = new byte[length - headerAt];
      stored.get(at + headerAt, headerBytes);
      RecordHeader header = RecordHeader.parse(headerBytes);
      if (!header.hash().equals(recordHash)) {
        throw new VerificationException(VerificationException.Failure.MALFORMED_ENCODING,
            "the header hashes to " + header.hash().toHex());
      }
      return Record.of(header, signature);
    } catch (VerificationException | RuntimeException e) {
      throw corrupt(DB_RECORDS, recordHash.toByteArray(), e);
    }
  }

  /**
   * Read keys are written into one direct buffer per thread instead of a fresh direct buffer per get
   * (allocating direct memory costs far more than the get). LMDB reads a key only during the call that
   * takes it, and no read here nests one get inside another, so one buffer per thread suffices.
   */
  private static final ThreadLocal<ByteBuffer> READ_KEY =
      ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(2 * Hash.LENGTH + Long.BYTES));

  /** {@code hash} as a read key, in this thread's key buffer: valid until the next read key. */
  private static ByteBuffer readKey(Hash hash) {
    ByteBuffer key = READ_KEY.get().clear();
    for (int i = 0; i < Hash.LENGTH; i++) {
      key.put(i, hash.byteAt(i));
    }
    return key.limit(Hash.LENGTH);
  }

  /** {@code hash ‖ number} (u64 big-endian) as a read key, in this thread's key buffer. */
  private static ByteBuffer readKey(Hash hash, long number) {
    ByteBuffer key = readKey(hash).limit(Hash.LENGTH + Long.BYTES);
    return key.putLong(Hash.LENGTH, number);
  }

  /** A copy of an LMDB value (or any buffer) as a fresh array, by absolute index. */
  private static byte[] copyOut(ByteBuffer value) {
    byte[] out = new byte[value.remaining()];
    value.get(value.position(), out);
    return out;
  }

  static byte[] encodeRecord(Record record) {
    byte[] header = record.header().encoded();
    Signature signature = record.signatureOrNull();
    int signatureLength = signature == null ? 0 : Signature.LENGTH;
    byte[] out = new byte[1 + signatureLength + header.length];
    out[0] = signature == null ? UNSIGNED : SIGNED;
    if (signature != null) {
      signature.copyTo(out, 1);
    }
    System.arraycopy(header, 0, out, 1 + signatureLength, header.length);
    return out;
  }

  /** The hashes ending the keys of {@code dbi} that start with {@code prefix}, in key (= hash) order. */
  private static List<Hash> hashesUnder(Txn<ByteBuffer> txn, Dbi<ByteBuffer> dbi, String dbName, byte[] prefix) {
    List<Hash> out = new ArrayList<>();
    ByteBuffer expected = ByteBuffer.wrap(prefix);
    try (CursorIterable<ByteBuffer> cursor = dbi.iterate(txn, KeyRange.atLeast(direct(prefix)))) {
      for (KeyVal<ByteBuffer> entry : cursor) {
        // The key is LMDB's memory: compare the prefix in place and copy out only the hash.
        ByteBuffer key = entry.key();
        int at = key.position();
        if (key.remaining() < prefix.length || !key.slice(at, prefix.length).equals(expected)) {
          break;
        }
        if (key.remaining() != prefix.length + Hash.LENGTH) {
          byte[] bad = copyOut(key);
          throw new StorageCorruptionException(
              "database " + dbName + ", key " + HEX.formatHex(bad) + ": wrong key length " + bad.length);
        }
        byte[] hash = new byte[Hash.LENGTH];
        key.get(at + prefix.length, hash);
        out.add(Hash.copyOf(hash));
      }
    }
    return Collections.unmodifiableList(out);
  }

  private static StorageCorruptionException corrupt(String db, byte[] key, Exception cause) {
    return new StorageCorruptionException(
        "database " + db + ", key " + HEX.formatHex(key) + ": stored value does not parse: " + cause.getMessage(),
        cause);
  }

  // ---- keys (big-endian, fixed width, so LMDB's byte order is hash order then height order)

  private static byte[] copy(ByteBuffer buffer) {
    byte[] out = new byte[buffer.remaining()];
    buffer.duplicate().get(out);
    return out;
  }

  private static ByteBuffer direct(byte[] bytes) {
    ByteBuffer buffer = ByteBuffer.allocateDirect(bytes.length);
    buffer.put(bytes).flip();
    return buffer;
  }

  static ByteBuffer key(Hash hash) {
    return direct(hash.toByteArray());
  }

  static ByteBuffer key(Hash first, Hash second) {
    byte[] key = new byte[2 * Hash.LENGTH];
    first.copyTo(key, 0);
    second.copyTo(key, Hash.LENGTH);
    return direct(key);
  }

  static byte[] prefix(Hash hash, long number) {
    ByteBuffer key = ByteBuffer.allocate(Hash.LENGTH + Long.BYTES);
    key.put(hash.toByteArray()).putLong(number);
    return key.array();
  }

  static ByteBuffer key(Hash hash, long number) {
    return direct(prefix(hash, number));
  }

  static ByteBuffer key(Hash capsuleId, long height, Hash recordHash) {
    byte[] key = new byte[Hash.LENGTH + Long.BYTES + Hash.LENGTH];
    System.arraycopy(prefix(capsuleId, height), 0, key, 0, Hash.LENGTH + Long.BYTES);
    recordHash.copyTo(key, Hash.LENGTH + Long.BYTES);
    return direct(key);
  }

  private static ByteBuffer empty() {
    return ByteBuffer.allocateDirect(0);
  }

  // ---- writes

  /** Work done inside one write transaction; it may run twice (after the map grew), so it must be repeatable. */
  @FunctionalInterface
  interface WriteWork<T, E extends Exception> {
    T run(Txn<ByteBuffer> txn) throws E;
  }

  /**
   * Runs {@code work} in one write transaction and commits it; when the work throws, nothing is applied.
   * When the transaction fills the map, the map is doubled (capped at the maximum) and the work retried
   * once; growing needs no transaction open in this process (LMDB's rule for {@code mdb_env_set_mapsize}),
   * so it happens only while no snapshot is open and under the lifecycle write lock, which waits out
   * commits and lookups. Otherwise the {@link Env.MapFullException} is thrown and nothing is applied.
   */
  <T, E extends Exception> T write(WriteWork<T, E> work) throws E {
    try {
      return writeOnce(work);
    } catch (Env.MapFullException full) {
      if (!grow()) {
        throw full;
      }
      return writeOnce(work);
    }
  }

  /** Runs {@code work} in a short read transaction. */
  <T> T read(java.util.function.Function<Txn<ByteBuffer>, T> work) {
    lifecycle.readLock().lock();
    try (Txn<ByteBuffer> txn = readTxn()) {
      return work.apply(txn);
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /** Applies a batch's writes in one write transaction: see {@link #write}. */
  private void apply(List<StagedWrite> writes) throws StorageException {
    List<SignedMetadata> created = new ArrayList<>();
    write(txn -> {
      created.clear();
      StagedWrite.Target target = new StagedWrite.Target() {
        @Override
        public void createCapsule(SignedMetadata signed) throws StorageException {
          Hash id = signed.capsuleId();
          if (metadata.get(txn, key(id)) != null) {
            throw new StorageException(Reason.CAPSULE_EXISTS, "capsule " + id.toHex() + " is already stored");
          }
          metadata.put(txn, key(id), direct(signed.encoded()));
          putDigest(txn, id, new SetDigest());
          created.add(signed);
        }

        @Override
        public void putRecord(RecordWithBody record) throws StorageException {
          LmdbCapsuleStorage.this.putRecord(txn, record);
        }

        @Override
        public void credit(PublicKey account, Amount amount) throws StorageException {
          LmdbCapsuleStorage.this.credit(txn, account, amount);
        }
      };
      for (StagedWrite write : writes) {
        write.applyTo(target);
      }
      return null;
    });
    for (SignedMetadata signed : created) {
      metadataCache.put(signed.capsuleId(), signed);
    }
  }

  /** Doubles the map (capped at the maximum) if it may grow now; whether it grew. */
  private boolean grow() {
    lifecycle.writeLock().lock();
    try {
      ensureOpen();
      long current = env.info().mapSize;
      if (current >= maxMapSize || openSnapshots.get() != 0) {
        return false;
      }
      env.setMapSize(current > maxMapSize / 2 ? maxMapSize : current * 2);
      return true;
    } finally {
      lifecycle.writeLock().unlock();
    }
  }

  private <T, E extends Exception> T writeOnce(WriteWork<T, E> work) throws E {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      writer.lock();
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        T result = work.run(txn);
        txn.commit();
        return result;
      } finally {
        writer.unlock();
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  // ---- the ledger's accounts (LmdbLedger, and credits staged in batches)

  /** The balance of {@code account} as of {@code txn}, zero for an account never seen. */
  long balance(Txn<ByteBuffer> txn, PublicKey account) {
    ByteBuffer stored = accounts.get(txn, accountKey(account));
    if (stored == null) {
      return 0;
    }
    if (stored.remaining() != Long.BYTES) {
      throw new StorageCorruptionException("database " + DB_ACCOUNTS + ", key " + account.toHex()
          + ": value is " + stored.remaining() + " bytes, not a balance");
    }
    long balance = stored.duplicate().getLong();
    if (balance < 0) {
      throw new StorageCorruptionException("database " + DB_ACCOUNTS + ", key " + account.toHex()
          + ": negative balance " + balance);
    }
    return balance;
  }

  void setBalance(Txn<ByteBuffer> txn, PublicKey account, long balance) {
    ByteBuffer value = ByteBuffer.allocateDirect(Long.BYTES);
    value.putLong(balance).flip();
    accounts.put(txn, accountKey(account), value);
  }

  /** Adds {@code amount} to the account inside {@code txn}; refused only if the balance would overflow. */
  void credit(Txn<ByteBuffer> txn, PublicKey account, Amount amount) throws StorageException {
    long before = balance(txn, account);
    long after;
    try {
      after = Amount.of(before).plus(amount).units();
    } catch (AmountOverflowException e) {
      throw new StorageException(Reason.BALANCE_OVERFLOW, "crediting " + amount.units() + " units to "
          + account + " overflows its balance of " + before);
    }
    setBalance(txn, account, after);
  }

  static ByteBuffer accountKey(PublicKey account) {
    return direct(account.toByteArray());
  }

  /**
   * A {@link dev.capsulevm.pricing.Ledger} kept in this store's environment (databases {@code accounts},
   * {@code nonces} and {@code nonce-expiry}), so its state is as durable as the records and a batch's
   * credits land in it atomically with the batch's writes. Every call on it is one transaction.
   *
   * @param maxBalance deposits above it are refused (the price table's maximum balance)
   * @param maxExpiryAhead withdrawals expiring further ahead than this are refused
   */
  public LmdbLedger ledger(Clock clock, Amount maxBalance, Duration maxExpiryAhead) {
    ensureOpen();
    return new LmdbLedger(this, clock, maxBalance, maxExpiryAhead);
  }

  /** Forces every commit so far to disk (useful with {@link Durability#NO_SYNC}). */
  public void sync() {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      env.sync(true);
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /** How commits reach the disk. */
  public Durability durability() {
    return durability;
  }

  /**
   * Every key and value of every database of the environment, in hex, database by database, read in one
   * transaction: what tests compare to show that nothing changed. Databases the environment holds but
   * this store does not know are included too (opened read-only by name).
   */
  public SortedMap<String, SortedMap<String, String>> dump() {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      List<String> names = new ArrayList<>();
      for (byte[] name : env.getDbiNames()) {
        names.add(new String(name, java.nio.charset.StandardCharsets.UTF_8));
      }
      SortedMap<String, SortedMap<String, String>> out = new TreeMap<>();
      try (Txn<ByteBuffer> txn = env.txnRead()) {
        for (String name : names) {
          Dbi<ByteBuffer> dbi = byName.get(name);
          if (dbi == null) {
            out.put(name, new TreeMap<>(Map.of("?", "a database this store does not know")));
            continue;
          }
          SortedMap<String, String> entries = new TreeMap<>();
          try (CursorIterable<ByteBuffer> cursor = dbi.iterate(txn, KeyRange.all())) {
            for (KeyVal<ByteBuffer> entry : cursor) {
              entries.put(HEX.formatHex(copy(entry.key())), HEX.formatHex(copy(entry.val())));
            }
          }
          out.put(name, entries);
        }
      }
      return out;
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  private void putRecord(Txn<ByteBuffer> txn, RecordWithBody item) throws StorageException {
    Hash hash = item.hash();
    RecordHeader header = item.record().header();
    Hash id = header.capsuleId();
    if (metadata.get(txn, key(id)) == null) {
      throw new StorageException(Reason.UNKNOWN_CAPSULE,
          "record " + hash.toHex() + " belongs to capsule " + id.toHex() + ", which is not stored");
    }
    if (recordCapsule.get(txn, key(hash)) != null) {
      return;
    }
    for (Hash parent : header.parents()) {
      if (!parent.equals(id) && !id.equals(capsuleOfOrNull(txn, parent))) {
        throw new StorageException(Reason.MISSING_PARENT, "record " + hash.toHex() + " names parent "
            + parent.toHex() + ", which capsule " + id.toHex() + " does not hold");
      }
    }
    records.put(txn, key(hash), direct(encodeRecord(item.record())));
    recordCapsule.put(txn, key(hash), key(id));
    List<byte[]> payloads = item.payloads();
    for (int i = 0; i < payloads.size(); i++) {
      bodies.put(txn, key(hash, i), direct(payloads.get(i)));
    }
    trees.put(txn, key(hash), direct(item.tree().encodedLevels()));
    heights.put(txn, key(id, header.height(), hash), empty());
    for (Hash parent : header.parents()) {
      heads.delete(txn, key(id, parent));
    }
    heads.put(txn, key(id, hash), empty());
    // Only a record new to the store gets here (a held one returned above), so the digest counts each once.
    SetDigest digest = digestOf(txn, id);
    digest.add(hash);
    putDigest(txn, id, digest);
  }

  /**
   * One read transaction. Values are read in place from LMDB's memory and only what is returned is copied
   * out (LMDB's memory is valid only inside the transaction, and callers keep what they get). Records
   * this snapshot has parsed are kept for its lifetime (at most {@link #CACHED_RECORDS}): what a
   * snapshot sees never changes, and a program reads the same headers many times (to price an
   * instruction, to resolve its target, and along every proof path), each parse hashing the header.
   */
  private final class LmdbSnapshot implements Snapshot {
    /** The most parsed records one snapshot keeps. */
    private static final int CACHED_RECORDS = 1024;
    /** The most sub-record trees one snapshot keeps (a program often reads many sub-records of one record). */
    private static final int CACHED_TREES = 16;

    private final Hash capsuleId;
    private final Txn<ByteBuffer> txn;
    private final Map<Hash, Record> parsed = new HashMap<>();
    private final Map<Hash, MerkleTree> keptTrees = new HashMap<>();
    private boolean snapshotClosed;

    LmdbSnapshot(Hash capsuleId, Txn<ByteBuffer> txn) {
      this.capsuleId = capsuleId;
      this.txn = txn;
    }

    private void open() {
      if (snapshotClosed) {
        throw new IllegalStateException("snapshot of " + capsuleId.toHex() + " is closed");
      }
    }

    /** Whether {@code recordHash} is a record of this capsule: its record-capsule value, compared in place. */
    private boolean mine(Hash recordHash) {
      open();
      return holds(txn, capsuleId, recordHash);
    }

    @Override
    public Hash capsuleId() {
      open();
      return capsuleId;
    }

    @Override
    public SignedMetadata metadata() {
      open();
      return metadataOf(txn, capsuleId);
    }

    @Override
    public RecordHeader headerOrNull(Hash recordHash) {
      Record record = recordOrNull(recordHash);
      return record == null ? null : record.header();
    }

    @Override
    public Record recordOrNull(Hash recordHash) {
      Objects.requireNonNull(recordHash, "recordHash");
      open();
      Record cached = parsed.get(recordHash);
      if (cached != null) {
        return cached;
      }
      if (!mine(recordHash)) {
        return null;
      }
      Record record = LmdbCapsuleStorage.this.recordOrNull(txn, recordHash);
      if (record == null) {
        throw new StorageCorruptionException("database " + DB_RECORDS + " lacks key " + recordHash.toHex()
            + ", which " + DB_RECORD_CAPSULE + " holds");
      }
      if (parsed.size() < CACHED_RECORDS) {
        parsed.put(recordHash, record);
      }
      return record;
    }

    @Override
    public List<byte[]> subRecordsOrNull(Hash recordHash) {
      Record record = recordOrNull(recordHash);
      if (record == null) {
        return null;
      }
      long count = record.header().subRecordCount();
      List<byte[]> out = new ArrayList<>((int) Math.min(count, 1 << 16));
      for (long i = 0; i < count; i++) {
        out.add(body(recordHash, i));
      }
      return Collections.unmodifiableList(out);
    }

    @Override
    public byte[] subRecordOrNull(Hash recordHash, long index) {
      Record record = recordOrNull(recordHash);
      if (record == null || index < 0 || index >= record.header().subRecordCount()) {
        return null;
      }
      return body(recordHash, index);
    }

    /**
     * The record's kept tree, read back without rehashing the leaves; computed from the bodies for a
     * record stored before trees were kept. Its root is checked against the header (O(log n) hashes),
     * which catches a damaged upper level; a damaged leaf hash shows as a proof the renter refuses.
     */
    @Override
    public MerkleTree subRecordTreeOrNull(Hash recordHash) {
      open();
      MerkleTree cached = keptTrees.get(recordHash);
      if (cached != null) {
        return cached;
      }
      MerkleTree tree = readTreeOrNull(recordHash);
      if (tree != null && keptTrees.size() < CACHED_TREES) {
        keptTrees.put(recordHash, tree);
      }
      return tree;
    }

    private MerkleTree readTreeOrNull(Hash recordHash) {
      Record record = recordOrNull(recordHash);
      if (record == null) {
        return null;
      }
      ByteBuffer stored = trees.get(txn, readKey(recordHash));
      if (stored == null) {
        return MerkleTree.ofLeaves(subRecordsOrNull(recordHash));
      }
      MerkleTree tree;
      try {
        tree = MerkleTree.fromEncodedLevels(record.header().subRecordCount(), copyOut(stored));
      } catch (IllegalArgumentException e) {
        throw corrupt(DB_TREES, recordHash.toByteArray(), e);
      }
      if (!tree.root().equals(record.header().subRecordRoot())) {
        throw corrupt(DB_TREES, recordHash.toByteArray(),
            new IllegalStateException("the kept tree's root is not the header's sub-record root"));
      }
      return tree;
    }

    /** Sub-record {@code index}, copied once out of LMDB's memory (the caller keeps it). */
    private byte[] body(Hash recordHash, long index) {
      ByteBuffer stored = bodies.get(txn, readKey(recordHash, index));
      byte[] payload = stored == null ? null : copyOut(stored);
      if (payload == null) {
        throw new StorageCorruptionException("database " + DB_BODIES + " lacks key "
            + HEX.formatHex(prefix(recordHash, index)) + " (record " + recordHash.toHex() + ", sub-record "
            + index + ")");
      }
      return payload;
    }

    @Override
    public List<Hash> recordsAtHeight(long height) {
      open();
      return hashesUnder(txn, heights, DB_HEIGHTS, prefix(capsuleId, height));
    }

    @Override
    public List<Hash> heads() {
      open();
      return hashesUnder(txn, heads, DB_HEADS, capsuleId.toByteArray());
    }

    @Override
    public void close() {
      if (snapshotClosed) {
        return;
      }
      snapshotClosed = true;
      parsed.clear();
      try {
        txn.close();
      } finally {
        openSnapshots.decrementAndGet();
      }
    }
  }
}
