package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.put;
import static dev.capsulevm.host.replication.Replicas.sync;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.exec.ExecutorStoreContract;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
      Path log = dir.resolve("child.log");
      Process child = start(bDir, Replicas.address(a), capsule.id(), log);
      long stored = 0;
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (stored == 0) {
          assertTrue(child.isAlive(), "the child died on its own: " + Files.readString(log));
          assertTrue(System.nanoTime() < deadline, "the child stored nothing in time: " + Files.readString(log));
          stored = lastStored(log);
          Thread.sleep(2);
        }
      } finally {
        child.destroyForcibly();
        assertTrue(child.waitFor(30, TimeUnit.SECONDS));
      }
      assertEquals(137, child.exitValue(), "killed by SIGKILL");
      assertTrue(!Files.readString(log).contains("ended"), "killed before the session ended");

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

  private static long lastStored(Path log) throws Exception {
    long stored = 0;
    if (Files.exists(log)) {
      for (String line : Files.readAllLines(log)) {
        if (line.startsWith("stored ")) {
          stored = Long.parseLong(line.substring(7).trim());
        }
      }
    }
    return stored;
  }

  private static Process start(Path data, String peer, Hash capsule, Path log) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = List.of(java,
        "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
        "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        SyncCrashChild.class.getName(), data.toString(), peer, capsule.toHex());
    return new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(new File(log.toString()))).start();
  }
}
