package dev.capsulevm.host.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;

class SyncProperties {
  @Property(tries = 60)
  void oneSessionMakesRandomSplitsEqual(@ForAll @IntRange(min = 1, max = 3_000) int n,
      @ForAll @IntRange(min = 1, max = 6) int width, @ForAll long seed,
      @ForAll @DoubleRange(min = 0, max = 1) double missing, @ForAll @IntRange(min = 0, max = 2) int mode,
      @ForAll boolean closed) {
    List<SyncRecord> records = Dags.random(seed, n, width, 0.1);
    Random r = new Random(seed);
    double rate = missing * missing * 0.5; // mostly small differences, sometimes large
    boolean[] inA = new boolean[n];
    boolean[] inB = new boolean[n];
    for (int i = 0; i < n; i++) {
      double x = r.nextDouble();
      inA[i] = x >= rate;
      inB[i] = x < rate || x >= 2 * rate;
    }
    if (closed) {
      // a replica never holds a record without its parents: a hole removes its descendants
      for (int i = 0; i < n; i++) {
        for (var p : records.get(i).parents()) {
          int j = parentIndex(records, i, p);
          if (j >= 0) {
            inA[i] &= inA[j];
            inB[i] &= inB[j];
          }
        }
      }
    }
    InMemoryDag a = Dags.replica(records, i -> inA[i]);
    InMemoryDag b = Dags.replica(records, i -> inB[i]);
    Reconciler.Config config = Reconciler.Config.DEFAULT.withMode(mode);
    LocalSession.Stats stats = ReconcilerTest.sync(a, b, config, seed);
    assertEquals(b.ids(), a.ids(), stats::toString);
    assertNotEquals(Reconciler.Outcome.DIVERGED, stats.outcome());
  }

  private static int parentIndex(List<SyncRecord> records, int child, dev.capsulevm.proofs.Hash parent) {
    for (int j = child - 1; j >= 0 && j >= child - 64; j--) {
      if (records.get(j).id().equals(parent)) {
        return j;
      }
    }
    for (int j = child - 65; j >= 0; j--) {
      if (records.get(j).id().equals(parent)) {
        return j;
      }
    }
    return -1;
  }
}
