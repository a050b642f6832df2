package dev.capsulevm.host.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Mode 3: the compact form under the pair's standing key, with each side's symbols kept or not. */
class PairedModeTest {
  static final byte[] PAIR = CodedSetTest.PAIR;

  /** A session between two replicas whose hosts share {@link #PAIR}. */
  static Pair sync(InMemoryDag a, InMemoryDag b, long seed) {
    Reconciler initiator = new Reconciler(a, Reconciler.Role.INITIATOR, Reconciler.Config.DEFAULT, new Random(seed),
        PAIR);
    Reconciler responder = new Reconciler(b, Reconciler.Role.RESPONDER, Reconciler.Config.DEFAULT,
        new Random(seed + 1), PAIR);
    return new Pair(LocalSession.run(initiator, responder, 100), initiator, responder);
  }

  record Pair(LocalSession.Stats stats, Reconciler initiator, Reconciler responder) {}

  static InMemoryDag[] split(long seed, int n, double rate) {
    List<SyncRecord> records = Dags.random(seed, n, 4, 0.05);
    Random r = new Random(seed);
    boolean[] inA = new boolean[n];
    boolean[] inB = new boolean[n];
    for (int i = 0; i < n; i++) {
      double x = r.nextDouble();
      inA[i] = x >= rate;
      inB[i] = x < rate || x >= 2 * rate;
    }
    return new InMemoryDag[] {Dags.replica(records, i -> inA[i]), Dags.replica(records, i -> inB[i])};
  }

  @ParameterizedTest(name = "initiator keeps {0}, responder keeps {1}")
  @CsvSource({"true,true", "true,false", "false,true", "false,false"})
  void sessionsConvergeWhetherOrNotEachSideKeepsItsSymbols(boolean keepA, boolean keepB) {
    InMemoryDag[] r = split(3, 20_000, 0.005);
    SessionKey key = SessionKey.forPair(Dags.ROOT, PAIR);
    if (keepA) {
      r[0].maintain(key, 1024);
    }
    if (keepB) {
      r[1].maintain(key, 1024);
    }
    Pair p = sync(r[0], r[1], 9);
    ReconcilerTest.assertConverged(r[0], r[1], p.stats());
    assertEquals(SyncMessage.MODE_RIBLT_PAIRED, p.initiator().mode());
    assertEquals(SyncMessage.MODE_RIBLT_PAIRED, p.responder().mode());
    assertEquals(keepA, p.initiator().usedKeptSymbols());
    assertEquals(keepB, p.responder().usedKeptSymbols());
    assertEquals(2, p.stats().roundTrips());
    assertFalse(p.stats().fellBack());
    // the kept sets followed the records the session stored
    if (keepA) {
      assertEquals(r[0].digest(), r[0].codedSnapshot(key).digest());
    }
    if (keepB) {
      assertEquals(r[1].digest(), r[1].codedSnapshot(key).digest());
    }
  }

  @Test
  void aDifferenceLargerThanThePrefixEncodesPastIt() {
    InMemoryDag[] r = split(4, 20_000, 0.05); // about 2,000 differences: far more symbols than 256
    SessionKey key = SessionKey.forPair(Dags.ROOT, PAIR);
    r[0].maintain(key, 256);
    r[1].maintain(key, 256);
    Pair p = sync(r[0], r[1], 5);
    ReconcilerTest.assertConverged(r[0], r[1], p.stats());
    assertTrue(p.initiator().extendedKeptSymbols());
    assertTrue(p.responder().extendedKeptSymbols());
  }

  @Test
  void aSmallDifferenceStaysWithinThePrefix() {
    InMemoryDag[] r = split(5, 20_000, 0.002);
    SessionKey key = SessionKey.forPair(Dags.ROOT, PAIR);
    r[0].maintain(key, CodedSet.DEFAULT_PREFIX);
    r[1].maintain(key, CodedSet.DEFAULT_PREFIX);
    Pair p = sync(r[0], r[1], 6);
    ReconcilerTest.assertConverged(r[0], r[1], p.stats());
    assertFalse(p.initiator().extendedKeptSymbols());
    assertFalse(p.responder().extendedKeptSymbols());
  }

  @Test
  void theSameSymbolsCostWhatTheSessionKeyedOnesCost() {
    InMemoryDag[] paired = split(6, 30_000, 0.01);
    InMemoryDag[] keyed = split(6, 30_000, 0.01);
    SessionKey key = SessionKey.forPair(Dags.ROOT, PAIR);
    paired[0].maintain(key, CodedSet.DEFAULT_PREFIX);
    paired[1].maintain(key, CodedSet.DEFAULT_PREFIX);
    LocalSession.Stats withPair = sync(paired[0], paired[1], 7).stats();
    LocalSession.Stats perSession = ReconcilerTest.sync(keyed[0], keyed[1], Reconciler.Config.DEFAULT, 7);
    ReconcilerTest.assertConverged(paired[0], paired[1], withPair);
    assertEquals(perSession.roundTrips(), withPair.roundTrips());
    // another key, so other symbols decode at another point; within a tenth of each other
    assertTrue(Math.abs(withPair.reconciliationBytes() - perSession.reconciliationBytes())
        < perSession.reconciliationBytes() / 10, () -> withPair + " against " + perSession);
  }

  @Test
  void aResponderWithoutAPairSecretRefusesMode3() {
    InMemoryDag[] r = split(7, 2_000, 0.01);
    Reconciler initiator = new Reconciler(r[0], Reconciler.Role.INITIATOR, Reconciler.Config.DEFAULT,
        new Random(1), PAIR);
    Reconciler responder = new Reconciler(r[1], Reconciler.Role.RESPONDER, Reconciler.Config.DEFAULT, new Random(2));
    List<SyncMessage> hello = initiator.start();
    SyncProtocolException e = assertThrows(SyncProtocolException.class, () -> responder.receive(hello));
    assertTrue(e.getMessage().contains("mode 3"), e.getMessage());
  }

  @Test
  void withoutAPairSecretTheCompactFormKeepsItsSessionKey() {
    InMemoryDag[] r = split(8, 2_000, 0.01);
    Reconciler initiator = new Reconciler(r[0], Reconciler.Role.INITIATOR, Reconciler.Config.DEFAULT, new Random(1));
    assertEquals(SyncMessage.MODE_RIBLT_COMPACT, initiator.mode());
    assertThrows(IllegalArgumentException.class, () -> new Reconciler(r[0], Reconciler.Role.INITIATOR,
        Reconciler.Config.DEFAULT, new Random(1), new byte[16]));
  }

  /** Random splits, kept symbols on either side, prefixes small and large: one session makes them equal. */
  @Property(tries = 30)
  void oneSessionMakesRandomSplitsEqual(@ForAll @IntRange(min = 1, max = 3_000) int n, @ForAll long seed,
      @ForAll @DoubleRange(min = 0, max = 1) double missing, @ForAll @IntRange(min = 1, max = 2_000) int prefix,
      @ForAll boolean keepA, @ForAll boolean keepB) {
    InMemoryDag[] r = split(seed, n, missing * missing * 0.5);
    SessionKey key = SessionKey.forPair(Dags.ROOT, PAIR);
    if (keepA) {
      r[0].maintain(key, prefix);
    }
    if (keepB) {
      r[1].maintain(key, prefix);
    }
    Pair p = sync(r[0], r[1], seed);
    assertEquals(r[1].ids(), r[0].ids(), p.stats()::toString);
  }
}
