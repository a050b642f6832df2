package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.chain;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.put;
import static dev.capsulevm.host.replication.Replicas.sync;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hosts that keep their coded symbols for each other (mode 3): sessions copy them, commits keep them. */
class KeptSymbolsReplicationTest {
  /** Every capsule kept, with a prefix small enough that a hundred differences go past it. */
  static final CodedSets.Limits KEPT = new CodedSets.Limits(64, 0, 1L << 30, Duration.ofHours(25));

  @TempDir
  Path dir;

  static HostServer start(Path dir) throws Exception {
    return HostServer.start(Replicas.config(dir).withReplication(
        Replicas.config(dir).replication().withCodedSets(KEPT)));
  }

  /** Each kept set of the capsule on each host holds exactly what the host stores. */
  static void assertKeptSetsAreStored(Hash capsule, HostServer... hosts) throws Exception {
    for (HostServer host : hosts) {
      for (var digest : host.replicator().codedSets().digestsOf(capsule)) {
        assertEquals(host.storage().digest(capsule), digest, "a kept set is not the stored one");
      }
    }
  }

  @Test
  void sessionsCopyTheSymbolsEachHostKeepsAndCommitsKeepThemCurrent() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("kept");
    try (HostServer a = start(dir.resolve("a")); HostServer b = start(dir.resolve("b"))) {
      create(a, capsule);
      List<RecordWithBody> trunk = chain(capsule, capsule.id(), 300, "t", 1);
      put(a, trunk);
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, capsule.id()).outcome()); // b fetches the capsule
      Hash tip = trunk.get(trunk.size() - 1).hash();
      put(a, chain(capsule, tip, 40, "a", 1));
      put(b, chain(capsule, tip, 25, "b", 2));
      CodedSets kept = a.replicator().codedSets();
      long servedBefore = kept.served();
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, capsule.id()).outcome());
      assertConverged(capsule.id(), a, b);
      assertEquals(1, kept.built(), "a built its set once, at the first session");
      assertEquals(servedBefore + 1, kept.served(), "and copied it for the second");
      assertEquals(1, b.replicator().codedSets().built());
      assertEquals(1, b.replicator().codedSets().digestsOf(capsule.id()).size());
      assertKeptSetsAreStored(capsule.id(), a, b);

      // the other way round, the same pair key: the same sets
      Hash forked = a.storage().heads(capsule.id()).get(0);
      put(b, chain(capsule, forked, 10, "b2", 1));
      assertEquals(SyncOutcome.CONVERGED, sync(a, b, capsule.id()).outcome());
      assertEquals(1, kept.built());
      assertEquals(1, b.replicator().codedSets().built());
      assertKeptSetsAreStored(capsule.id(), a, b);

      // a fork of 100 records each needs about 290 symbols, past the 64 kept: both encode past them
      Hash head = a.storage().heads(capsule.id()).get(0);
      put(a, chain(capsule, head, 100, "left", 1));
      put(b, chain(capsule, head, 100, "right", 1));
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, capsule.id()).outcome());
      assertConverged(capsule.id(), a, b);
      assertKeptSetsAreStored(capsule.id(), a, b);
      assertEquals(SyncOutcome.EQUAL, sync(a, b, capsule.id()).outcome());
    }
  }

  @Test
  void aRestartedHostBuildsItsSetsAgainFromItsStore() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("restart");
    try (HostServer a = start(dir.resolve("a"))) {
      create(a, capsule);
      List<RecordWithBody> trunk = chain(capsule, capsule.id(), 1_000, "t", 1);
      put(a, trunk);
      try (HostServer b = start(dir.resolve("b"))) {
        assertEquals(SyncOutcome.CONVERGED, sync(b, a, capsule.id()).outcome()); // all of it: Bloom filters
        put(b, chain(capsule, trunk.get(999).hash(), 30, "b", 1));
        assertEquals(SyncOutcome.CONVERGED, sync(b, a, capsule.id()).outcome()); // 30 records: coded symbols
        assertEquals(1, a.replicator().codedSets().built());
      }
      put(a, chain(capsule, a.storage().heads(capsule.id()).get(0), 20, "a", 1));
      try (HostServer b = start(dir.resolve("b"))) {
        assertEquals(0, b.replicator().codedSets().size(), "nothing is kept across a restart");
        assertEquals(SyncOutcome.CONVERGED, sync(b, a, capsule.id()).outcome());
        assertConverged(capsule.id(), a, b);
        assertEquals(1, b.replicator().codedSets().built());
        // b's new exchange key makes a new pair key: a builds a set for it too, the old one idles out
        assertEquals(2, a.replicator().codedSets().built());
        assertKeptSetsAreStored(capsule.id(), a, b);
        assertFalse(b.replicator().codedSets().digestsOf(capsule.id()).isEmpty());
      }
    }
  }
}
