package dev.capsulevm.host.store;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Parsed records by hash, shared by all reads of one store. A record is stored under its own hash and
 * never changes or goes away once committed (the store deletes nothing), so a parsed copy stays right; a
 * read still asks here only after its own transaction showed the record (a snapshot checks
 * {@code record-capsule} first), so snapshots never see later commits through it. Parsing is what
 * reading a header costs: the proofs parser decodes the writer's Ed25519 point and hashes the header
 * (checked against the key), and every proof walks the headers near the head again. Bounded: emptied
 * when it reaches {@link #CAPACITY}. Nothing is ever deleted; whatever deletes records must remove them
 * here too. Thread-safe.
 */
final class RecordCache {
  /** The most records kept before the cache is emptied. */
  static final int CAPACITY = 1 << 14;

  private final Map<Hash, Record> records = new ConcurrentHashMap<>();

  @Nullable Record getOrNull(Hash recordHash) {
    return records.get(recordHash);
  }

  void put(Hash recordHash, Record record) {
    if (records.size() >= CAPACITY) {
      records.clear();
    }
    records.put(recordHash, record);
  }
}
