package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * A replica in memory: records by id, how many stored records name each record as a parent (for the
 * heads), and the running digest. It accepts any record set, closed under parents or not, so tests can
 * build holes of every shape.
 */
public final class InMemoryDag implements SyncDag {
  private final Hash root;
  private final Map<Hash, List<Hash>> records;
  private final Map<Hash, Integer> children;
  private final TreeSet<Hash> heads = new TreeSet<>();
  private final SetDigest digest = new SetDigest();

  public InMemoryDag(Hash root) {
    this(root, 16);
  }

  public InMemoryDag(Hash root, int expected) {
    this.root = Objects.requireNonNull(root, "root");
    this.records = new HashMap<>(Math.max(16, expected * 4 / 3 + 1));
    this.children = new HashMap<>(Math.max(16, expected * 4 / 3 + 1));
  }

  /** A replica holding {@code records}. */
  public static InMemoryDag of(Hash root, Collection<SyncRecord> records) {
    InMemoryDag dag = new InMemoryDag(root, records.size());
    for (SyncRecord r : records) {
      dag.add(r);
    }
    return dag;
  }

  @Override
  public Hash root() {
    return root;
  }

  @Override
  public boolean contains(Hash id) {
    return records.containsKey(id);
  }

  @Override
  public List<Hash> parents(Hash id) {
    return records.get(id);
  }

  @Override
  public List<Hash> heads() {
    return new ArrayList<>(heads);
  }

  @Override
  public long count() {
    return records.size();
  }

  @Override
  public SetDigest digest() {
    return digest.copy();
  }

  @Override
  public void forEachId(Consumer<Hash> action) {
    records.keySet().forEach(action);
  }

  @Override
  public boolean add(SyncRecord record) {
    if (record.id().equals(root) || records.containsKey(record.id())) {
      return false;
    }
    records.put(record.id(), record.parents());
    digest.add(record.id());
    for (Hash p : record.parents()) {
      if (children.merge(p, 1, Integer::sum) == 1) {
        heads.remove(p);
      }
    }
    if (!children.containsKey(record.id())) {
      heads.add(record.id());
    }
    return true;
  }

  /** The stored ids, for tests. */
  public java.util.Set<Hash> ids() {
    return java.util.Collections.unmodifiableSet(records.keySet());
  }
}
