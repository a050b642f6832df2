package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.put;
import static dev.capsulevm.host.replication.Replicas.sync;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/** For random capsule DAGs split at random between two hosts, one session makes them equal. */
class ReplicationProperties {
  private static Path dir;
  private static HostServer a;
  private static HostServer b;

  @BeforeContainer
  static void start() throws Exception {
    dir = Files.createTempDirectory("capsulevm-replication-properties");
    a = Replicas.start(dir.resolve("a"));
    b = Replicas.start(dir.resolve("b"));
  }

  @AfterContainer
  static void stop() throws Exception {
    a.close();
    b.close();
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  @Property(tries = 25)
  void oneSessionMakesRandomSplitsEqual(@ForAll @IntRange(min = 1, max = 150) int n,
      @ForAll @IntRange(min = 1, max = 4) int width, @ForAll long seed,
      @ForAll @DoubleRange(min = 0, max = 0.6) double missing) throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("property " + seed + " " + n + " " + width + " " + missing);
    Random random = new Random(seed);
    List<RecordWithBody> records = randomDag(capsule, random, n, width);
    // each replica lacks a random share of the records, and with each its descendants: a store never
    // holds a record without its parents
    Set<Hash> inA = new HashSet<>();
    Set<Hash> inB = new HashSet<>();
    inA.add(capsule.id());
    inB.add(capsule.id());
    for (RecordWithBody r : records) {
      double x = random.nextDouble();
      List<Hash> parents = r.record().header().parents();
      if (x >= missing / 2 && inA.containsAll(parents)) {
        inA.add(r.hash());
      }
      if ((x < missing / 2 || x >= missing) && inB.containsAll(parents)) {
        inB.add(r.hash());
      }
    }
    create(a, capsule);
    create(b, capsule);
    put(a, records.stream().filter(r -> inA.contains(r.hash())).toList());
    put(b, records.stream().filter(r -> inB.contains(r.hash())).toList());
    Replicator.SessionResult result = sync(b, a, capsule.id());
    assertEquals(true, result.ok(), result.outcome() + " " + result.error());
    assertConverged(capsule.id(), a, b);
    Set<Hash> union = new HashSet<>(inA);
    union.addAll(inB);
    assertEquals(union.size() - 1, b.storage().digest(capsule.id()).count());
  }

  /** Up to {@code width} concurrent branches; a record sometimes merges two of them. */
  private static List<RecordWithBody> randomDag(CapsuleFixture capsule, Random random, int n, int width) {
    List<Hash> tips = new ArrayList<>(List.of(capsule.id()));
    List<RecordWithBody> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int t = random.nextInt(tips.size());
      List<Hash> parents = new ArrayList<>(List.of(tips.get(t)));
      if (tips.size() > 1 && random.nextDouble() < 0.2) {
        int u = (t + 1 + random.nextInt(tips.size() - 1)) % tips.size();
        if (!tips.get(t).equals(capsule.id()) && !tips.get(u).equals(capsule.id())) {
          parents.add(tips.get(u)); // the capsule id is only ever a first record's sole parent
        }
      }
      parents.sort(null);
      RecordWithBody record = capsule.record(parents, "r" + i, 1 + random.nextInt(3));
      out.add(record);
      tips.removeAll(parents);
      tips.add(record.hash());
      if (tips.size() < width && random.nextDouble() < 0.3) {
        tips.add(parents.get(0)); // a new branch beside this record
      }
    }
    return out;
  }
}
