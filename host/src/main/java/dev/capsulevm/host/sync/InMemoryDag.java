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
import org.jspecify.annotations.Nullable;

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
  /** The ids in insertion order as big-endian limbs, four per id. */
  private long[] dense = new long[64];
  private final byte[] buffer = new byte[32];
  /** The ids with their coded symbols kept under one key, once {@link #maintain} asked for it. */
  private @Nullable CodedSet coded;

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
  public @Nullable List<Hash> parents(Hash id) {
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
  public void forEachIdLimbs(LimbConsumer action) {
    int n = 4 * records.size();
    for (int i = 0; i < n; i += 4) {
      action.accept(dense[i], dense[i + 1], dense[i + 2], dense[i + 3]);
    }
  }

  @Override
  public boolean add(SyncRecord record) {
    if (record.id().equals(root) || records.containsKey(record.id())) {
      return false;
    }
    records.put(record.id(), record.parents());
    digest.add(record.id());
    int at = 4 * (records.size() - 1);
    if (dense.length < at + 4) {
      dense = java.util.Arrays.copyOf(dense, Math.max(at + 4, dense.length * 2));
    }
    record.id().copyTo(buffer, 0);
    for (int l = 0; l < 4; l++) {
      dense[at + l] = SessionKey.getLong(buffer, 8 * l);
    }
    if (coded != null) {
      coded.add(dense[at], dense[at + 1], dense[at + 2], dense[at + 3]);
    }
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

  /** An independent copy of this replica. */
  public InMemoryDag copy() {
    InMemoryDag d = new InMemoryDag(root, 0, new HashMap<>(records), new HashMap<>(children));
    d.heads.addAll(heads);
    d.dense = java.util.Arrays.copyOf(dense, 4 * records.size() + 4);
    d.digest.addAll(digest);
    d.coded = coded == null ? null : coded.copy();
    return d;
  }

  private InMemoryDag(Hash root, int unused, Map<Hash, List<Hash>> records, Map<Hash, Integer> children) {
    this.root = root;
    this.records = records;
    this.children = children;
  }

  /**
   * From now on keeps this replica's coded symbols below {@code prefix} under {@code key}, updated by
   * every {@link #add}: what a host does for a peer it syncs with ({@link CodedSet}).
   */
  public void maintain(SessionKey key, int prefix) {
    coded = CodedSet.of(this, key, prefix);
  }

  @Override
  public CodedSet.@Nullable Snapshot codedSnapshot(SessionKey key) {
    CodedSet c = coded;
    return c != null && c.key().equals(key) ? c.snapshot() : null;
  }

  /** The stored ids, for tests. */
  public java.util.Set<Hash> ids() {
    return java.util.Collections.unmodifiableSet(records.keySet());
  }
}
