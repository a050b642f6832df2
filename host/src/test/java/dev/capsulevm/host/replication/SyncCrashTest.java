package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.put;
import static dev.capsulevm.host.replication.Replicas.sync;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.ChildJvm;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.exec.ExecutorStoreContract;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host pulling a capsule is killed with SIGKILL in the middle of the session ({@link SyncCrashChild}
 * in a JVM of its own). Its store reopens holding a valid, parent-closed part of the capsule whose digest
 * matches what it holds; restarted, it converges with the next session.
 */
class SyncCrashTest {
  @TempDir
  Path dir;

  @Test
  void aHostKilledMidSessionReopensValidAndConverges() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("sync crash");
    List<RecordWithBody> records = Replicas.randomChain(capsule, 2_000, 4, 11);
    try (HostServer a = Replicas.start(dir.resolve("a"))) {
      create(a, capsule);
      for (int i = 0; i < records.size(); i += 500) {
        put(a, records.subList(i, i + 500));
      }
      Path bDir = dir.resolve("b");
      try (ChildJvm child = ChildJvm.start(dir.resolve("child.log"), 256, SyncCrashChild.class, bDir.toString(),
          Replicas.address(a), capsule.id().toHex(), String.valueOf(records.size() / 2))) {
        String line = child.nextLine();
        while (!line.startsWith("stored ") || Long.parseLong(line.substring(7)) == 0) {
          line = child.nextLine();
        }
        assertEquals(137, child.kill(), "killed by SIGKILL");
        assertTrue(child.rest().stream().noneMatch(l -> l.startsWith("ended")), "killed before the session ended");
      }

      Set<Hash> held = new HashSet<>();
      try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(bDir.resolve(HostServer.STORE_DIRECTORY))) {
        for (RecordWithBody r : records) {
          if (store.holdsRecord(capsule.id(), r.hash())) {
            held.add(r.hash());
          }
        }
        SetDigest expected = new SetDigest();
        held.forEach(expected::add);
        assertEquals(expected, store.digest(capsule.id()), "the digest is what the store holds");
        ExecutorStoreContract.assertConsistent(store, capsule.id(), held);
      }
      assertTrue(held.size() < records.size(), "the kill came mid-session (" + held.size() + " held)");
      for (int i = 0; i < held.size(); i++) {
        assertTrue(held.contains(records.get(i).hash()), "a prefix of the chain: parents before children");
      }
      try (HostServer b = HostServer.start(Replicas.config(bDir))) {
        Replicator.SessionResult healed = sync(b, a, capsule.id());
        assertEquals(SyncOutcome.CONVERGED, healed.outcome(), healed.error());
        assertEquals(records.size() - held.size(), healed.progress().recordsReceived());
        assertConverged(capsule.id(), a, b);
      }
    }
  }
}
