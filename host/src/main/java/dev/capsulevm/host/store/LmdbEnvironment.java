package dev.capsulevm.host.store;

import dev.capsulevm.host.store.LmdbCapsuleStorage.Durability;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.CursorIterable.KeyVal;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;

/**
 * One LMDB environment and its databases, shared by the capsule store and the ledger: its lifecycle, the
 * writer lock, map growth, read and write transactions, and durability. Thread-safe.
 *
 * <p>Every operation but a snapshot's reads holds the lifecycle read lock, so {@link #close()} (the
 * write side) waits for commits and lookups in progress; it refuses while snapshots are open. Writes
 * are serialized by a lock of their own (LMDB allows one writer), which is never taken while a thread
 * waits for a read transaction. Opened with {@code MDB_NOTLS}: a read transaction is not tied to its
 * thread, so one thread may hold several snapshots (and commit while holding one), and a snapshot may be
 * handed to another thread.
 */
final class LmdbEnvironment implements AutoCloseable {
  /** {@code data.mdb} and {@code lock.mdb} are made readable and writable by their owner only (0600). */
  private static final int FILE_MODE = 0600;

  /** Work done inside one write transaction; it may run twice (after the map grew), so it must be repeatable. */
  @FunctionalInterface
  interface WriteWork<T, E extends Exception> {
    T run(Txn<ByteBuffer> txn) throws E;
  }

  /** {@link WriteWork} that returns nothing. */
  @FunctionalInterface
  interface WriteAction<E extends Exception> {
    void run(Txn<ByteBuffer> txn) throws E;
  }

  /** A check a snapshot's read transaction must pass before it is handed out. */
  @FunctionalInterface
  interface SnapshotCheck<E extends Exception> {
    void check(Txn<ByteBuffer> txn) throws E;
  }

  private final Env<ByteBuffer> env;
  private final Map<String, Dbi<ByteBuffer>> byName;
  private final Durability durability;
  /** The most the map may grow to; equal to the opening map size when growth is off. */
  private final long maxMapSize;

  /** Held by every operation but a snapshot's reads; close() takes the write side. */
  private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
  /** One committer at a time. Never taken while this thread waits for a read transaction. */
  private final ReentrantLock writer = new ReentrantLock();
  private final AtomicInteger openSnapshots = new AtomicInteger();
  private volatile boolean closed;

  private LmdbEnvironment(Env<ByteBuffer> env, Map<String, Dbi<ByteBuffer>> byName, Durability durability,
      long maxMapSize) {
    this.env = env;
    this.byName = byName;
    this.durability = durability;
    this.maxMapSize = maxMapSize;
  }

  /**
   * Opens (creating when absent) the environment in {@code directory} and its {@code databases}, in order.
   *
   * @param mapSize the map size to open with
   * @param maxMapSize the most the map may grow to (at least {@code mapSize}; equal means never grow)
   * @param maxReaders how many snapshots and lookups may be open at once
   */
  static LmdbEnvironment open(Path directory, long mapSize, long maxMapSize, int maxReaders, Durability durability,
      List<String> databases) throws IOException {
    Objects.requireNonNull(directory, "directory");
    Objects.requireNonNull(durability, "durability");
    if (mapSize <= 0 || maxReaders <= 0) {
      throw new IllegalArgumentException("map size and max readers must be positive");
    }
    if (maxMapSize < mapSize) {
      throw new IllegalArgumentException("the maximum map size is below the map size");
    }
    Files.createDirectories(directory);
    List<EnvFlags> flags = new ArrayList<>(List.of(EnvFlags.MDB_NOTLS));
    if (durability == Durability.NO_META_SYNC) {
      flags.add(EnvFlags.MDB_NOMETASYNC);
    } else if (durability == Durability.NO_SYNC) {
      flags.add(EnvFlags.MDB_NOSYNC);
    }
    Env<ByteBuffer> env = Env.create()
        .setMapSize(mapSize)
        .setMaxDbs(databases.size() + 7) // spare slots: a later version may add databases
        .setMaxReaders(maxReaders)
        .open(directory.toFile(), FILE_MODE, flags.toArray(new EnvFlags[0]));
    try {
      Map<String, Dbi<ByteBuffer>> byName = new LinkedHashMap<>();
      for (String name : databases) {
        byName.put(name, env.openDbi(name, DbiFlags.MDB_CREATE));
      }
      return new LmdbEnvironment(env, Map.copyOf(byName), durability, maxMapSize);
    } catch (RuntimeException e) {
      env.close();
      throw e;
    }
  }

  /** The database {@code name}, opened with the environment. */
  Dbi<ByteBuffer> dbi(String name) {
    Dbi<ByteBuffer> dbi = byName.get(name);
    if (dbi == null) {
      throw new IllegalArgumentException("no database " + name + " was opened");
    }
    return dbi;
  }

  boolean isClosed() {
    return closed;
  }

  void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the store is closed");
    }
  }

  /** Runs {@code work} in a short read transaction. */
  <T> T read(Function<Txn<ByteBuffer>, T> work) {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      try (Txn<ByteBuffer> txn = env.txnRead()) {
        return work.apply(txn);
      }
    } finally {
      lifecycle.readLock().unlock();
    }
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

  /** {@link #write} for work that returns nothing. */
  <E extends Exception> void update(WriteAction<E> work) throws E {
    write(txn -> {
      work.run(txn);
      return Boolean.TRUE; // a value for write, unused
    });
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

  /**
   * A transaction nested in {@code parent}, a write transaction of {@link #write}: its writes join the
   * parent's when it commits and vanish when it is closed without committing, leaving the parent usable.
   */
  Txn<ByteBuffer> child(Txn<ByteBuffer> parent) {
    return env.txn(parent);
  }

  /** Doubles the map (capped at the maximum) if it may grow now; whether it grew. */
  boolean grow() {
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

  /**
   * Opens a read transaction that stays open after this call, for a snapshot: counted until
   * {@link #endSnapshot}, so the map does not grow and the environment does not close meanwhile. When
   * {@code check} throws, the transaction is closed and not counted.
   */
  <E extends Exception> Txn<ByteBuffer> beginSnapshot(SnapshotCheck<E> check) throws E {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      Txn<ByteBuffer> txn = env.txnRead();
      try {
        check.check(txn);
        openSnapshots.incrementAndGet();
        return txn;
      } catch (Exception e) {
        txn.close();
        throw e;
      }
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /** Closes a snapshot's transaction from {@link #beginSnapshot}. */
  void endSnapshot(Txn<ByteBuffer> txn) {
    try {
      txn.close();
    } finally {
      openSnapshots.decrementAndGet();
    }
  }

  /** The current map size: the most the data file may grow to before the next growth. */
  long mapSize() {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      return env.info().mapSize;
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  /** Forces every commit so far to disk. */
  void sync() {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      env.sync(true);
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  Durability durability() {
    return durability;
  }

  /**
   * Every key and value of every database of the environment, in hex, database by database, read in one
   * transaction. Databases the environment holds but was not opened with are named with a placeholder.
   */
  SortedMap<String, SortedMap<String, String>> dump() {
    lifecycle.readLock().lock();
    try {
      ensureOpen();
      List<String> names = new ArrayList<>();
      for (byte[] name : env.getDbiNames()) {
        names.add(new String(name, StandardCharsets.UTF_8));
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
              entries.put(Layout.HEX.formatHex(Layout.copyOut(entry.key())),
                  Layout.HEX.formatHex(Layout.copyOut(entry.val())));
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
}
