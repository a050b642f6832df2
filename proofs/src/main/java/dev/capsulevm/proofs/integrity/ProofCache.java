package dev.capsulevm.proofs.integrity;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The renter's memory of records it has already verified, least recently used first out. A proof may
 * stop at any record held here, so walking backwards through a capsule costs one step per record.
 *
 * <p>Security: only {@link ProofVerifier} adds to the cache: records it proved linked to a trusted
 * record, and heads adopted through {@code trust} after the caller checked their signatures; a cached
 * record is trusted exactly as the anchor is. Thread-safe.
 */
public final class ProofCache {
  private final int capacity;
  private final LinkedHashMap<Hash, RecordHeader> entries;
  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong misses = new AtomicLong();

  /** A cache of at most {@code capacity} records. */
  public ProofCache(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
    }
    this.capacity = capacity;
    this.entries =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<Hash, RecordHeader> eldest) {
            return size() > ProofCache.this.capacity;
          }
        };
  }

  /** The verified header of {@code recordHash}, or null; counts a hit or a miss. */
  public @Nullable RecordHeader getIfPresent(Hash recordHash) {
    RecordHeader header;
    synchronized (entries) {
      header = entries.get(recordHash);
    }
    (header == null ? misses : hits).incrementAndGet();
    return header;
  }

  void put(RecordHeader verified) {
    synchronized (entries) {
      entries.put(verified.hash(), verified);
    }
  }

  public int size() {
    synchronized (entries) {
      return entries.size();
    }
  }

  public int capacity() {
    return capacity;
  }

  /** Lookups that found a verified record. */
  public long hits() {
    return hits.get();
  }

  /** Lookups that did not. */
  public long misses() {
    return misses.get();
  }

  /** Forgets every record (the counters stay). */
  public void clear() {
    synchronized (entries) {
      entries.clear();
    }
  }
}
