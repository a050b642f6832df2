package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Random;
import java.util.function.IntPredicate;

/** Random record DAGs for the tests: ids are SHA-256 of (label, seed, index), parents among recent records. */
final class Dags {
  static final Hash ROOT = id("root", 0, 0);

  private Dags() {}

  static Hash id(String label, long seed, long index) {
    MessageDigest md = dev.capsulevm.proofs.Sha256.newDigest();
    md.update(label.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    md.update(ByteBuffer.allocate(16).putLong(seed).putLong(index).array());
    return Hash.copyOf(md.digest());
  }

  /**
   * {@code n} records written by up to {@code width} concurrent branches: each record extends a random
   * branch tip, sometimes also naming another tip (a merge, which ends that branch) and sometimes starting
   * a new branch beside it, so the DAG has at most {@code width} heads, like a capsule with a few writers.
   */
  static List<SyncRecord> random(long seed, int n, int width, double mergeRate) {
    Random random = new Random(seed);
    List<SyncRecord> out = new ArrayList<>(n);
    List<Hash> tips = new ArrayList<>();
    tips.add(ROOT);
    for (int i = 0; i < n; i++) {
      Hash id = id("rec", seed, i);
      int t = random.nextInt(tips.size());
      List<Hash> parents = new ArrayList<>(2);
      parents.add(tips.get(t));
      if (tips.size() > 1 && random.nextDouble() < mergeRate) {
        int u = random.nextInt(tips.size() - 1);
        u = u >= t ? u + 1 : u;
        parents.add(tips.get(u));
        tips.set(t, id);
        tips.remove(u);
      } else if (tips.size() < width && !tips.get(t).equals(ROOT) && random.nextDouble() < mergeRate) {
        tips.add(id); // a fork: the old tip stays a tip
      } else {
        tips.set(t, id);
      }
      out.add(new SyncRecord(id, parents));
    }
    return out;
  }

  /** A chain extending {@code from} with {@code n} records labelled {@code label}. */
  static List<SyncRecord> chain(String label, long seed, Hash from, int n) {
    List<SyncRecord> out = new ArrayList<>(n);
    Hash parent = from;
    for (int i = 0; i < n; i++) {
      Hash id = id(label, seed, i);
      out.add(new SyncRecord(id, List.of(parent)));
      parent = id;
    }
    return out;
  }

  static InMemoryDag replica(List<SyncRecord> records, IntPredicate keep) {
    InMemoryDag dag = new InMemoryDag(ROOT, records.size());
    for (int i = 0; i < records.size(); i++) {
      if (keep.test(i)) {
        dag.add(records.get(i));
      }
    }
    return dag;
  }

  static InMemoryDag replica(Collection<SyncRecord> records) {
    return InMemoryDag.of(ROOT, records);
  }
}
