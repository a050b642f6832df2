package dev.capsulevm.host.sync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class CodedSetTest {
  static final byte[] PAIR = pairSecret(1);

  static byte[] pairSecret(int seed) {
    byte[] s = new byte[SessionKey.PAIR_SECRET_BYTES];
    new Random(seed).nextBytes(s);
    return s;
  }

  static SessionKey pairKey() {
    return SessionKey.forPair(Dags.ROOT, PAIR);
  }

  /** Every symbol of the kept set, past its prefix too, equals a from-scratch encoding of the same ids. */
  static void assertSameSymbols(CodedSet kept, InMemoryDag same, int horizon, int[] runs) {
    Riblt.Source fromKept = new Riblt.MaintainedEncoder(kept.snapshot(), horizon);
    Riblt.Encoder scratch = new Riblt.Encoder(kept.key(), same, horizon, true);
    int at = 0;
    for (int i = 0; at < horizon; i++) {
      int size = Math.min(runs[i % runs.length], horizon - at);
      Riblt.Symbols a = fromKept.produce(size);
      Riblt.Symbols b = scratch.produce(size);
      assertEquals(b.first, a.first);
      assertArrayEquals(b.sums, a.sums, "sums of symbols from " + at);
      assertArrayEquals(b.checksums, a.checksums, "checks of symbols from " + at);
      assertArrayEquals(b.counts, a.counts, "counts of symbols from " + at);
      at += size;
    }
  }

  @Property(tries = 40)
  void keptSymbolsEqualAnEncodingFromScratchAfterRandomInserts(@ForAll @IntRange(min = 0, max = 4_000) int n,
      @ForAll @IntRange(min = 1, max = 600) int prefix, @ForAll @IntRange(min = 0, max = 3) int repeats,
      @ForAll long seed) {
    List<SyncRecord> records = Dags.random(seed, n, 4, 0.05);
    Random r = new Random(seed);
    InMemoryDag dag = new InMemoryDag(Dags.ROOT);
    CodedSet kept = new CodedSet(pairKey(), prefix);
    // inserts in a random order, some repeated (a listener and a scan may both report an id)
    List<SyncRecord> shuffled = new ArrayList<>(records);
    java.util.Collections.shuffle(shuffled, r);
    for (SyncRecord rec : shuffled) {
      dag.add(rec);
      assertTrue(kept.add(rec.id()));
      for (int k = 0; k < repeats && r.nextInt(4) == 0; k++) {
        assertFalse(kept.add(rec.id()));
      }
    }
    assertEquals(n, kept.count());
    assertEquals(dag.digest(), kept.snapshot().digest());
    assertSameSymbols(kept, dag, prefix + 1 + r.nextInt(2 * prefix + 8), new int[] {1 + r.nextInt(9), 8, 37});
  }

  @Test
  void aSnapshotIgnoresIdsAddedAfterIt() {
    List<SyncRecord> records = Dags.random(4, 3_000, 4, 0.05);
    CodedSet kept = CodedSet.of(Dags.replica(records.subList(0, 2_000)), pairKey(), 256);
    CodedSet.Snapshot before = kept.snapshot();
    SessionKey key = pairKey();
    for (SyncRecord rec : records.subList(2_000, 3_000)) {
      kept.add(rec.id());
    }
    assertEquals(2_000, before.size());
    assertEquals(Dags.replica(records.subList(0, 2_000)).digest(), before.digest());
    Hash late = records.get(2_500).id();
    Hash early = records.get(10).id();
    assertFalse(before.hasHash(key.hash(late)));
    assertTrue(before.hasHash(key.hash(early)));
    assertTrue(kept.snapshot().hasHash(key.hash(late)));
    long[] both = sortedUnsigned(key.hash(late), key.hash(early));
    assertEquals(List.of(early), before.idsWithHashes(both));
    assertEquals(Set.of(early, late), new HashSet<>(kept.snapshot().idsWithHashes(both)));
    // the old snapshot's symbols are still those of the first 2,000 ids
    assertSameSymbols(kept.copy(), Dags.replica(records), 300, new int[] {50});
    Riblt.Symbols first = new Riblt.MaintainedEncoder(before, 256).produce(256);
    Riblt.Symbols scratch = new Riblt.Encoder(key, Dags.replica(records.subList(0, 2_000)), 256, true).produce(256);
    assertArrayEquals(scratch.sums, first.sums);
    assertArrayEquals(scratch.counts, first.counts);
  }

  @Test
  void aDagKeepsItsSymbolsOnlyUnderTheKeyItWasAskedFor() {
    InMemoryDag dag = Dags.replica(Dags.random(5, 500, 4, 0.05));
    assertNull(dag.codedSnapshot(pairKey()));
    dag.maintain(pairKey(), 64);
    assertNotNull(dag.codedSnapshot(pairKey()));
    assertNull(dag.codedSnapshot(SessionKey.forPair(Dags.ROOT, pairSecret(2))));
    assertNull(dag.codedSnapshot(SessionKey.forPair(Dags.id("other", 0, 0), PAIR)));
    InMemoryDag copy = dag.copy();
    copy.add(new SyncRecord(Dags.id("extra", 0, 0), List.of(Dags.ROOT)));
    assertEquals(500, dag.codedSnapshot(pairKey()).size());
    assertEquals(501, copy.codedSnapshot(pairKey()).size());
  }

  static long[] sortedUnsigned(long... values) {
    long[] out = values.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] ^= Long.MIN_VALUE;
    }
    java.util.Arrays.sort(out);
    for (int i = 0; i < out.length; i++) {
      out[i] ^= Long.MIN_VALUE;
    }
    return out;
  }
}
