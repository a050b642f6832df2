package dev.capsulevm.host.replication;

import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.host.sync.CodedSet;
import dev.capsulevm.host.sync.SessionKey;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.vm.storage.StorageException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * The coded symbols this host keeps for its sync peers: per capsule and standing key (one key per peer
 * and capsule, {@link SessionKey#forPair}) a {@link CodedSet}, so that a session copies the symbols of
 * its own records instead of encoding every one of them.
 *
 * <p>A set is built from the store by the first session that asks for it (one pass over the capsule's
 * ids), then kept up to date by the store's commit listener ({@link ReplicaStore#onRecordsStored}: renter
 * appends and replicated records alike; retention drops payloads, never records, so it changes no set).
 * Nothing is persisted: the keys come from exchange keys each host draws when it starts, so after a
 * restart the first session with each peer builds its sets again. While a set is built, commits are
 * queued for it and applied when the pass ends; adding an id twice is harmless.
 *
 * <p>Bounds: a capsule with fewer than {@link Limits#minRecords} records is not kept (encoding it costs
 * little); the sets together stay under {@link Limits#maxBytes} (least recently used out, a set that
 * would not fit alone is not kept); a set unused for {@link Limits#idle} is dropped (its peer has rotated
 * its exchange key, or stopped syncing). Thread-safe.
 */
public final class CodedSets implements BiConsumer<Hash, List<Hash>> {
  /**
   * What is kept, and for which capsules.
   *
   * @param prefix symbols kept per set ({@link CodedSet#prefix()})
   * @param minRecords capsules with fewer records are encoded per session instead
   * @param maxBytes the most all sets may hold together ({@link CodedSet#bytes()})
   * @param idle a set unused this long is dropped
   */
  public record Limits(int prefix, long minRecords, long maxBytes, Duration idle) {
    public Limits {
      if (prefix < 1 || minRecords < 0 || maxBytes < 0 || idle.isNegative()) {
        throw new IllegalArgumentException("bad limits: prefix " + prefix + ", minRecords " + minRecords
            + ", maxBytes " + maxBytes + ", idle " + idle);
      }
    }

    /**
     * 16,384 symbols per set, capsules of 16,384 records or more, an eighth of the heap in all, dropped
     * after 25 hours unused (a day of exchange keys and an hour to spare).
     */
    public static Limits defaults() {
      return new Limits(CodedSet.DEFAULT_PREFIX, 16_384, Runtime.getRuntime().maxMemory() / 8,
          Duration.ofHours(25));
    }

    /** About what a set of {@code records} ids holds. */
    long bytesFor(long records) {
      return 16L * prefix + 60L * records;
    }
  }

  private record Slot(Hash capsule, SessionKey key) {}

  /** A set and what waits for it while it is built. */
  private static final class Entry {
    final Slot slot;
    final CodedSet set;
    /** Commits that came while the set was built; null once it is ready. */
    @Nullable List<Hash> pending = new ArrayList<>();
    Instant lastUsed;

    Entry(Slot slot, CodedSet set, Instant now) {
      this.slot = slot;
      this.set = set;
      this.lastUsed = now;
    }
  }

  private final ReplicaStore store;
  private final Limits limits;
  private final Clock clock;
  /** Every set, least recently used first; guarded by itself. */
  private final LinkedHashMap<Slot, Entry> sets = new LinkedHashMap<>(16, 0.75f, true);
  /** The sets of each capsule, for the commit listener; guarded by {@link #sets}. */
  private final Map<Hash, List<Entry>> byCapsule = new HashMap<>();
  private final AtomicLong built = new AtomicLong();
  private final AtomicLong served = new AtomicLong();

  public CodedSets(ReplicaStore store, Limits limits, Clock clock) {
    this.store = Objects.requireNonNull(store, "store");
    this.limits = Objects.requireNonNull(limits, "limits");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * The capsule's ids with their symbols under {@code key}, as stored now, or null when they are not
   * kept (too few records, over the memory bound, or another session is building them). The first call
   * for a capsule and key builds the set from the store in this thread.
   *
   * @throws StorageException UNKNOWN_CAPSULE when the store does not hold the capsule
   */
  public CodedSet.@Nullable Snapshot snapshot(Hash capsule, SessionKey key) throws StorageException {
    Slot slot = new Slot(capsule, key);
    Instant now = clock.instant();
    Entry entry;
    boolean build = false;
    synchronized (sets) {
      dropIdle(now);
      entry = sets.get(slot);
      if (entry == null) {
        long count = store.digest(capsule).count();
        if (count < limits.minRecords() || limits.bytesFor(count) > limits.maxBytes()) {
          return null;
        }
        entry = new Entry(slot, new CodedSet(key, limits.prefix()), now);
        sets.put(slot, entry);
        byCapsule.computeIfAbsent(capsule, c -> new ArrayList<>()).add(entry);
        build = true;
      }
      entry.lastUsed = now;
    }
    if (build) {
      build(entry);
    }
    synchronized (sets) {
      if (entry.pending != null || !sets.containsKey(slot)) {
        return null; // another session is building it, or it was dropped meanwhile
      }
    }
    served.incrementAndGet();
    return entry.set.snapshot();
  }

  /** Adds every stored id, then what commits queued meanwhile; then the set is ready. */
  private void build(Entry entry) {
    try {
      entry.set.addAll(action -> store.forEachRecordId(entry.slot.capsule(), action));
      while (true) {
        List<Hash> queued;
        synchronized (sets) {
          queued = Objects.requireNonNull(entry.pending, "only this thread makes it ready");
          if (queued.isEmpty()) {
            entry.pending = null;
            break;
          }
          entry.pending = new ArrayList<>();
        }
        for (Hash id : queued) {
          entry.set.add(id);
        }
      }
      built.incrementAndGet();
      synchronized (sets) {
        trim(entry);
      }
    } catch (RuntimeException e) {
      synchronized (sets) {
        remove(entry);
      }
      throw e;
    }
  }

  /** The store's commit listener: the ids a commit stored in {@code capsule}. */
  @Override
  public void accept(Hash capsule, List<Hash> ids) {
    List<Entry> ready = new ArrayList<>();
    synchronized (sets) {
      List<Entry> entries = byCapsule.get(capsule);
      if (entries == null) {
        return;
      }
      for (Entry e : entries) {
        List<Hash> pending = e.pending;
        if (pending != null) {
          pending.addAll(ids);
        } else {
          ready.add(e);
        }
      }
    }
    for (Entry e : ready) {
      for (Hash id : ids) {
        e.set.add(id);
      }
    }
  }

  /** Drops every set: the keys they were kept under are gone (this host drew a new exchange key). */
  public void clear() {
    synchronized (sets) {
      sets.clear();
      byCapsule.clear();
    }
  }

  /** How many sets are kept now (ready or being built). */
  public int size() {
    synchronized (sets) {
      return sets.size();
    }
  }

  /** How many sets were built from the store so far. */
  long built() {
    return built.get();
  }

  /** How many snapshots of kept sets sessions were given so far. */
  long served() {
    return served.get();
  }

  /** The digests of the capsule's kept sets that are ready: each must equal the store's. */
  List<SetDigest> digestsOf(Hash capsule) {
    List<Entry> entries;
    synchronized (sets) {
      entries = new ArrayList<>(byCapsule.getOrDefault(capsule, List.of()));
      entries.removeIf(e -> e.pending != null);
    }
    List<SetDigest> out = new ArrayList<>();
    for (Entry e : entries) {
      out.add(e.set.snapshot().digest());
    }
    return out;
  }

  /** The bytes the kept sets hold together. */
  public long bytes() {
    synchronized (sets) {
      long total = 0;
      for (Entry e : sets.values()) {
        total += e.set.bytes();
      }
      return total;
    }
  }

  /** Drops the least recently used sets other than {@code keep} while the sets hold more than the bound. */
  private void trim(Entry keep) {
    long total = 0;
    for (Entry e : sets.values()) {
      total += e.set.bytes();
    }
    Iterator<Entry> eldest = new ArrayList<>(sets.values()).iterator();
    while (total > limits.maxBytes() && eldest.hasNext()) {
      Entry e = eldest.next();
      if (e != keep) {
        total -= e.set.bytes();
        remove(e);
      }
    }
    if (total > limits.maxBytes()) {
      remove(keep); // alone over the bound: encoded per session instead
    }
  }

  private void dropIdle(Instant now) {
    Instant before = now.minus(limits.idle());
    for (Entry e : new ArrayList<>(sets.values())) {
      if (e.lastUsed.isBefore(before)) {
        remove(e);
      }
    }
  }

  private void remove(Entry e) {
    sets.remove(e.slot);
    List<Entry> entries = byCapsule.get(e.slot.capsule());
    if (entries != null) {
      entries.remove(e);
      if (entries.isEmpty()) {
        byCapsule.remove(e.slot.capsule());
      }
    }
  }
}
