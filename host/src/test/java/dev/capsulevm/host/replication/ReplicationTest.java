package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.chain;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.put;
import static dev.capsulevm.host.replication.Replicas.sync;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.testing.Await;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Hosts on loopback replicating capsules through the Sync service, with every record verified. */
class ReplicationTest {
  @TempDir
  Path dir;

  @Test
  void threeHostsWritingDuringAPartitionConvergeToEveryBranch() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("partition");
    try (HostServer a = Replicas.start(dir.resolve("a")); HostServer b = Replicas.start(dir.resolve("b"));
        HostServer c = Replicas.start(dir.resolve("c"))) {
      create(a, capsule);
      List<RecordWithBody> common = chain(capsule, capsule.id(), 30, "common", 2);
      put(a, common);
      // b and c do not hold the capsule yet: their first session fetches and verifies its metadata
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, capsule.id()).outcome());
      assertEquals(SyncOutcome.CONVERGED, sync(c, b, capsule.id()).outcome());
      assertConverged(capsule.id(), a, b, c);

      Hash tip = common.get(common.size() - 1).hash();
      put(a, chain(capsule, tip, 12, "a", 3));
      put(b, chain(capsule, tip, 7, "b", 1));
      put(c, chain(capsule, tip, 5, "c", 4));

      assertTrue(sync(a, b, capsule.id()).ok());
      assertTrue(sync(b, c, capsule.id()).ok());
      assertTrue(sync(c, a, capsule.id()).ok());
      assertTrue(sync(a, b, capsule.id()).ok());
      assertConverged(capsule.id(), a, b, c);
      assertEquals(3, a.storage().heads(capsule.id()).size(), "hosts keep every branch: the renter merges");
      assertEquals(30 + 12 + 7 + 5, a.storage().digest(capsule.id()).count());
      assertEquals(SyncOutcome.EQUAL, sync(b, a, capsule.id()).outcome());
    }
  }

  /** Each shape of difference between two replicas, healed by one session (plus its repair rounds). */
  @ParameterizedTest
  @ValueSource(strings = {"scattered", "long gap", "whole branch", "lagging tip", "empty replica"})
  void holesOfEveryShapeAreFilled(String shape) throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("holes " + shape);
    Random random = new Random(shape.hashCode());
    try (HostServer a = Replicas.start(dir.resolve("a")); HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, capsule);
      List<RecordWithBody> trunk = chain(capsule, capsule.id(), 40, "trunk", 1);
      put(a, trunk);
      Hash tip = trunk.get(trunk.size() - 1).hash();
      List<RecordWithBody> onlyA = new ArrayList<>();
      List<RecordWithBody> onlyB = new ArrayList<>();
      List<RecordWithBody> both = new ArrayList<>(trunk);
      switch (shape) {
        case "scattered" -> {
          // eight branches; each replica lacks the newest few records of some of them
          for (int i = 0; i < 8; i++) {
            List<RecordWithBody> branch = chain(capsule, tip, 20, "branch" + i, 1);
            int cut = 5 + random.nextInt(15);
            both.addAll(branch.subList(0, cut));
            (i % 2 == 0 ? onlyA : onlyB).addAll(branch.subList(cut, branch.size()));
          }
        }
        case "long gap" -> {
          List<RecordWithBody> branch = chain(capsule, trunk.get(5).hash(), 200, "gap", 1);
          both.addAll(branch.subList(0, 3));
          onlyA.addAll(branch.subList(3, branch.size()));
          onlyB.addAll(chain(capsule, tip, 4, "other", 1));
        }
        case "whole branch" -> {
          onlyA.addAll(chain(capsule, trunk.get(20).hash(), 60, "left", 2));
          onlyB.addAll(chain(capsule, trunk.get(30).hash(), 45, "right", 2));
        }
        case "lagging tip" -> onlyA.addAll(chain(capsule, tip, 300, "tip", 1));
        case "empty replica" -> onlyA.addAll(chain(capsule, tip, 100, "tip", 1));
        default -> throw new AssertionError(shape);
      }
      put(a, both.subList(trunk.size(), both.size()));
      put(a, onlyA);
      if (!shape.equals("empty replica")) {
        create(b, capsule);
        put(b, both);
        put(b, onlyB);
      }
      Replicator.SessionResult result = sync(b, a, capsule.id());
      assertEquals(SyncOutcome.CONVERGED, result.outcome(), result.error());
      assertConverged(capsule.id(), a, b);
      assertEquals(both.size() + onlyA.size() + onlyB.size(), b.storage().digest(capsule.id()).count());
      int fetched = shape.equals("empty replica") ? both.size() + onlyA.size() : onlyA.size();
      assertEquals(fetched, result.progress().recordsReceived());
      assertEquals(onlyB.size(), result.progress().recordsSent());
    }
  }

  /** The responder shuts down mid-session; the initiator keeps what it stored and the next session ends it. */
  @Test
  void aResponderStoppedMidSessionIsResumedAfterItsRestart() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("stopped");
    Path aDir = dir.resolve("a");
    List<RecordWithBody> records = Replicas.randomChain(capsule, 1_500, 4, 3);
    HostServer a = Replicas.start(aDir);
    create(a, capsule);
    put(a, records);
    Path bDir = dir.resolve("b");
    try (HostServer b = HostServer.start(Replicas.config(bDir).withReplication(Replicas.config(bDir).replication()
        .withStaging(new ReplicaDag.Limits(1 << 20, 256L << 20, 16 << 10))))) {
      CompletableFuture<Void> storing = new CompletableFuture<>();
      CountDownLatch stopped = new CountDownLatch(1);
      CompletableFuture<Replicator.SessionResult> running = CompletableFuture.supplyAsync(() ->
          b.replicator().syncNow(Replicas.address(a), capsule.id(), new Replicator.ProgressListener() {
            @Override
            public void progress(Hash c, int index, int count, SyncSession.Progress p) {
              if (p.recordsStored() > 0) {
                storing.complete(null);
                // The session goes on only once a is stopped, so it cannot end first, however slow the test.
                try {
                  stopped.await(Await.DEADLINE.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            }

            @Override
            public void ended(Hash c, int index, int count, Replicator.SessionResult result) {
              storing.complete(null);
            }
          }).get(0));
      storing.get(60, java.util.concurrent.TimeUnit.SECONDS);
      a.close();
      stopped.countDown();
      Replicator.SessionResult cut = running.get(60, java.util.concurrent.TimeUnit.SECONDS);
      long kept = b.storage().digest(capsule.id()).count();
      assertEquals(SyncOutcome.FAILED, cut.outcome(), "cut off after " + kept + " records");
      assertTrue(kept > 0 && kept < records.size(), kept + " records kept");
      try (HostServer again = HostServer.start(Replicas.config(aDir))) {
        Replicator.SessionResult healed = b.replicator().syncNow(Replicas.address(again), capsule.id(),
            Replicator.ProgressListener.NONE).get(0);
        assertEquals(SyncOutcome.CONVERGED, healed.outcome(), healed.error());
        assertEquals(records.size() - kept, healed.progress().recordsReceived());
        assertConverged(capsule.id(), again, b);
      }
    } finally {
      a.close();
    }
  }

  @Test
  void configuredPeersAreSyncedOnTheirInterval() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("scheduled");
    try (HostServer a = Replicas.start(dir.resolve("a"))) {
      create(a, capsule);
      List<RecordWithBody> first = chain(capsule, capsule.id(), 10, "first", 1);
      put(a, first);
      Replicator.Settings sync = Replicas.config(dir.resolve("b")).replication()
          .withPeers(List.of(new Replicator.Peer(Replicas.address(a), java.util.Set.of(capsule.id()))))
          .withInterval(java.time.Duration.ofMillis(100));
      try (HostServer b = HostServer.start(Replicas.config(dir.resolve("b")).withReplication(sync))) {
        awaitCount(b, capsule.id(), 10);
        put(a, chain(capsule, first.get(9).hash(), 5, "more", 1));
        awaitCount(b, capsule.id(), 15);
        assertConverged(capsule.id(), a, b);
        // the records are stored before the session that brought them is counted
        Replicator.PeerState state = awaitSessions(b, 2);
        assertEquals(Replicas.address(a), state.address());
        assertTrue(state.sessions() >= 2 && state.lastSession() != null, state.toString());
      }
    }
  }

  /** A peer for every capsule that lacks one of them: that capsule is skipped, the others still sync. */
  @Test
  void aPeerForEveryCapsuleThatLacksOneStillSyncsTheOthersAndIsNotBackedOff() throws Exception {
    CapsuleFixture p = new CapsuleFixture("every p");
    CapsuleFixture q = new CapsuleFixture("every q");
    CapsuleFixture lacking = p.id().compareTo(q.id()) < 0 ? p : q; // synced first: ids go in order
    CapsuleFixture shared = lacking == p ? q : p;
    try (HostServer a = Replicas.start(dir.resolve("a"))) {
      create(a, shared);
      put(a, chain(shared, shared.id(), 8, "shared", 1));
      Replicator.Settings sync = Replicas.config(dir.resolve("b")).replication()
          .withPeers(List.of(new Replicator.Peer(Replicas.address(a), java.util.Set.of())))
          .withInterval(java.time.Duration.ofMillis(100));
      try (HostServer b = HostServer.start(Replicas.config(dir.resolve("b")).withReplication(sync))) {
        create(b, lacking);
        put(b, chain(lacking, lacking.id(), 3, "own", 1));
        create(b, shared);
        awaitCount(b, shared.id(), 8);
        Replicator.PeerState state = b.replicator().peers().get(0);
        assertEquals(0, state.failures(), state.toString());
        assertEquals(null, state.backoffUntil());
      }
    }
  }

  private static void awaitCount(HostServer host, Hash capsule, long count) throws InterruptedException {
    Await.value("records synced", () -> countOrZero(host, capsule), n -> n >= count);
    assertEquals(count, countOrZero(host, capsule));
  }

  private static Replicator.PeerState awaitSessions(HostServer host, long sessions) throws InterruptedException {
    return Await.value("sessions counted", () -> host.replicator().peers().get(0), s -> s.sessions() >= sessions);
  }

  private static long countOrZero(HostServer host, Hash capsule) {
    try {
      return host.storage().hasCapsule(capsule) ? host.storage().digest(capsule).count() : 0;
    } catch (Exception e) {
      return 0;
    }
  }
}
