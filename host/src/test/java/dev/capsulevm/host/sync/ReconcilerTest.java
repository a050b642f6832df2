package dev.capsulevm.host.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class ReconcilerTest {
  static final Reconciler.Config RIBLT = Reconciler.Config.FULL_IDS;
  static final Reconciler.Config BLOOM = Reconciler.Config.BASELINE;
  static final Reconciler.Config COMPACT = Reconciler.Config.DEFAULT;

  static Reconciler.Config config(String name) {
    return switch (name) {
      case "riblt" -> RIBLT;
      case "bloom" -> BLOOM;
      case "compact" -> COMPACT;
      default -> throw new IllegalArgumentException(name);
    };
  }

  static LocalSession.Stats sync(InMemoryDag a, InMemoryDag b, Reconciler.Config config, long seed) {
    return LocalSession.run(new Reconciler(a, Reconciler.Role.INITIATOR, config, new Random(seed)),
        new Reconciler(b, Reconciler.Role.RESPONDER, config, new Random(seed + 1)), 100);
  }

  static void assertConverged(InMemoryDag a, InMemoryDag b, LocalSession.Stats stats) {
    assertEquals(b.ids(), a.ids(), () -> "sets differ after " + stats);
    assertEquals(b.heads(), a.heads());
    assertTrue(stats.outcome() == Reconciler.Outcome.CONVERGED || stats.outcome() == Reconciler.Outcome.EQUAL,
        () -> stats.toString());
  }

  static Stream<Arguments> configs() {
    return Stream.of(Arguments.of("riblt", RIBLT), Arguments.of("bloom", BLOOM), Arguments.of("compact", COMPACT));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void equalReplicasFinishInOneRoundTripAndAFewHundredBytes(String name, Reconciler.Config config) {
    List<SyncRecord> records = Dags.random(1, 5_000, 8, 0.1);
    InMemoryDag a = Dags.replica(records);
    InMemoryDag b = Dags.replica(records);
    LocalSession.Stats stats = sync(a, b, config, 7);
    assertEquals(Reconciler.Outcome.EQUAL, stats.outcome());
    assertEquals(1, stats.roundTrips());
    assertTrue(stats.reconciliationBytes() < 400, () -> stats.reconciliationBytes() + " bytes");
  }

  static Stream<Arguments> shapes() {
    List<Arguments> out = new ArrayList<>();
    for (String config : List.of("riblt", "bloom", "compact")) {
      for (String shape : List.of("scattered", "gap", "branch", "lagging", "fork", "disjoint-heads", "empty")) {
        out.add(Arguments.of(config, shape));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("shapes")
  void holesOfEveryShapeAreFilled(String configName, String shape) {
    Reconciler.Config config = config(configName);
    int n = 20_000;
    List<SyncRecord> base = Dags.random(3, n, 4, 0.05);
    Random r = new Random(11);
    InMemoryDag a;
    InMemoryDag b;
    switch (shape) {
      case "scattered" -> {
        boolean[] inA = new boolean[n];
        boolean[] inB = new boolean[n];
        for (int i = 0; i < n; i++) {
          double x = r.nextDouble();
          inA[i] = x >= 0.01;
          inB[i] = x < 0.01 || x >= 0.02;
        }
        a = Dags.replica(base, i -> inA[i]);
        b = Dags.replica(base, i -> inB[i]);
      }
      case "gap" -> {
        a = Dags.replica(base, i -> true);
        b = Dags.replica(base, i -> i < 5_000 || i >= 5_400);
      }
      case "branch" -> {
        List<SyncRecord> trunk = Dags.chain("trunk", 5, Dags.ROOT, 2_000);
        List<SyncRecord> side = Dags.chain("side", 5, trunk.get(999).id(), 300);
        List<SyncRecord> all = new ArrayList<>(trunk);
        all.addAll(side);
        a = Dags.replica(all);
        b = Dags.replica(trunk);
      }
      case "lagging" -> {
        a = Dags.replica(base, i -> true);
        b = Dags.replica(base, i -> i < n - 250);
      }
      case "fork" -> {
        List<SyncRecord> common = base.subList(0, n - 100);
        List<SyncRecord> left = new ArrayList<>(common);
        left.addAll(Dags.chain("left", 9, common.get(common.size() - 1).id(), 120));
        List<SyncRecord> right = new ArrayList<>(common);
        right.addAll(Dags.chain("right", 9, common.get(common.size() - 1).id(), 80));
        a = Dags.replica(left);
        b = Dags.replica(right);
      }
      case "disjoint-heads" -> {
        a = Dags.replica(base, i -> i % 1000 != 999);
        b = Dags.replica(base, i -> i % 1000 != 500);
      }
      case "empty" -> {
        a = new InMemoryDag(Dags.ROOT);
        b = Dags.replica(base.subList(0, 3000));
      }
      default -> throw new IllegalArgumentException(shape);
    }
    LocalSession.Stats stats = sync(a, b, config, 5);
    assertConverged(a, b, stats);
  }

  @Test
  void smallDifferenceCostsFewBytesPerRecordAndTwoRoundTrips() {
    int n = 50_000;
    List<SyncRecord> base = Dags.random(21, n, 4, 0.05);
    Random r = new Random(2);
    boolean[] inA = new boolean[n];
    boolean[] inB = new boolean[n];
    for (int i = 0; i < n; i++) {
      double x = r.nextDouble();
      inA[i] = x >= 0.005;
      inB[i] = x < 0.005 || x >= 0.01;
    }
    InMemoryDag a = Dags.replica(base, i -> inA[i]);
    InMemoryDag b = Dags.replica(base, i -> inB[i]);
    long missing = n - a.count() + n - b.count();
    LocalSession.Stats stats = sync(a, b, RIBLT, 3);
    assertConverged(a, b, stats);
    assertEquals(2, stats.roundTrips());
    double perRecord = (double) stats.reconciliationBytes() / missing;
    assertTrue(perRecord < 100, () -> perRecord + " bytes per missing record: " + stats);
  }

  @Test
  void compactSymbolsCostAFractionAndStayAtTwoRoundTrips() {
    int n = 50_000;
    List<SyncRecord> base = Dags.random(22, n, 4, 0.05);
    Random r = new Random(3);
    boolean[] inA = new boolean[n];
    boolean[] inB = new boolean[n];
    for (int i = 0; i < n; i++) {
      double x = r.nextDouble();
      inA[i] = x >= 0.05;
      inB[i] = x < 0.05 || x >= 0.1;
    }
    InMemoryDag a = Dags.replica(base, i -> inA[i]);
    InMemoryDag b = Dags.replica(base, i -> inB[i]);
    long missing = n - a.count() + n - b.count();
    LocalSession.Stats stats = sync(a, b, COMPACT, 3);
    assertConverged(a, b, stats);
    assertEquals(2, stats.roundTrips(), stats::toString);
    double perRecord = (double) stats.reconciliationBytes() / missing;
    assertTrue(perRecord < 35, () -> perRecord + " bytes per missing record: " + stats);
  }

  @Test
  void theDefaultIsTheCompactForm() {
    assertEquals(SyncMessage.MODE_RIBLT_COMPACT, Reconciler.Config.DEFAULT.mode());
    assertEquals(SyncMessage.MODE_RIBLT, Reconciler.Config.FULL_IDS.mode());
    assertEquals(SyncMessage.MODE_BLOOM, Reconciler.Config.BASELINE.mode());
  }

  @Test
  void theDefaultDoesNotFallBackWhereTheFullFormDoes() {
    int n = 20_000;
    List<SyncRecord> base = Dags.random(4, n, 4, 0.05);
    Random r = new Random(4);
    boolean[] inA = new boolean[n];
    boolean[] inB = new boolean[n];
    for (int i = 0; i < n; i++) {
      double x = r.nextDouble();
      inA[i] = x >= 0.05;
      inB[i] = x < 0.05 || x >= 0.1;
    }
    InMemoryDag a = Dags.replica(base, i -> inA[i]);
    InMemoryDag b = Dags.replica(base, i -> inB[i]);
    InMemoryDag fullA = a.copy();
    InMemoryDag fullB = b.copy();
    LocalSession.Stats stats = sync(a, b, Reconciler.Config.DEFAULT, 3);
    assertConverged(a, b, stats);
    assertTrue(!stats.fellBack(), stats::toString);
    assertEquals(2, stats.roundTrips(), stats::toString);
    LocalSession.Stats full = sync(fullA, fullB, Reconciler.Config.FULL_IDS, 3);
    assertConverged(fullA, fullB, full);
    assertTrue(full.fellBack(), full::toString);
  }

  @Test
  void largeDifferencesFallBackToBloomFilters() {
    int n = 20_000;
    List<SyncRecord> base = Dags.random(4, n, 4, 0.05);
    Random r = new Random(4);
    boolean[] inA = new boolean[n];
    boolean[] inB = new boolean[n];
    for (int i = 0; i < n; i++) {
      double x = r.nextDouble();
      inA[i] = x >= 0.1;
      inB[i] = x < 0.1 || x >= 0.2;
    }
    InMemoryDag a = Dags.replica(base, i -> inA[i]);
    InMemoryDag b = Dags.replica(base, i -> inB[i]);
    LocalSession.Stats stats = sync(a, b, RIBLT, 3);
    assertConverged(a, b, stats);
    assertTrue(stats.fellBack(), stats::toString);
  }

  /**
   * The responder's first turn opens with its summary. A turn without one (a lying or broken responder)
   * is a protocol violation, not a NullPointerException deriving a Bloom key from the missing nonce.
   */
  @Test
  void anInitiatorRefusesATurnWithoutTheResponderSummary() {
    InMemoryDag a = Dags.replica(Dags.random(5, 100, 4, 0.1));
    List<SyncMessage> empty = List.of();
    List<SyncMessage> headsOnly = List.of(new SyncMessage.Heads(a.heads()));
    for (List<SyncMessage> turn : List.of(empty, headsOnly)) {
      Reconciler initiator = new Reconciler(a, Reconciler.Role.INITIATOR, COMPACT, new Random(5));
      initiator.start();
      assertThrows(SyncProtocolException.class, () -> initiator.receive(turn), turn::toString);
    }
  }

  @ParameterizedTest(name = "{0}, cut after {1} round trips")
  @MethodSource("cuts")
  void aSessionCutOffLeavesBothValidAndTheNextFinishes(String name, int cut) {
    Reconciler.Config config = config(name);
    int n = 10_000;
    List<SyncRecord> base = Dags.random(8, n, 4, 0.05);
    InMemoryDag a = Dags.replica(base, i -> i % 50 != 7);
    InMemoryDag b = Dags.replica(base, i -> i % 70 != 3 && i < n - 300);
    LocalSession.Stats first = LocalSession.run(new Reconciler(a, Reconciler.Role.INITIATOR, config, new Random(1)),
        new Reconciler(b, Reconciler.Role.RESPONDER, config, new Random(2)), cut);
    assertEquals(Reconciler.Outcome.RUNNING, first.outcome());
    // both replicas only grew, and only with records of the union
    assertTrue(base.stream().map(SyncRecord::id).toList().containsAll(a.ids()));
    assertTrue(base.stream().map(SyncRecord::id).toList().containsAll(b.ids()));
    LocalSession.Stats second = sync(b, a, config, 9);
    assertConverged(a, b, second);
  }

  static Stream<Arguments> cuts() {
    return Stream.of(Arguments.of("riblt", 1), Arguments.of("compact", 1), Arguments.of("bloom", 1),
        Arguments.of("bloom", 2));
  }
}
