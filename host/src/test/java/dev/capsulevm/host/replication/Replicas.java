package dev.capsulevm.host.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.host.store.ReplicaStore;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.vm.members.CapsuleMembers;
import dev.capsulevm.vm.storage.Batch;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;

/** Hosts on loopback for the replication tests, and what the tests do to their stores. */
final class Replicas {
  private Replicas() {}

  /** A host on ephemeral loopback ports that syncs only on demand and backs off briefly. */
  static HostServer start(Path dir) throws Exception {
    return HostServer.start(config(dir));
  }

  static HostConfig config(Path dir) {
    Replicator.Settings sync = Replicator.Settings.defaults(List.of()).withInterval(Duration.ZERO)
        .withBackoff(Duration.ofMillis(200), Duration.ofSeconds(1));
    return TestHost.config(dir).withReplication(sync);
  }

  static String address(HostServer host) {
    return "127.0.0.1:" + host.port();
  }

  static void create(HostServer host, CapsuleFixture capsule) throws Exception {
    create(host, capsule.metadata);
  }

  static void create(HostServer host, SignedMetadata metadata) throws Exception {
    try (Batch batch = host.storage().newBatch()) {
      batch.createCapsule(metadata);
      batch.commit();
    }
  }

  /**
   * Stores records (parents first) as a renter's append would leave them, validated as one by the rule
   * every replica applies (the writer's right before each record), without a live append's check
   * against the host's current members.
   */
  static void put(HostServer host, List<RecordWithBody> records) throws Exception {
    if (records.isEmpty()) {
      return;
    }
    Hash capsule = records.get(0).record().header().capsuleId();
    try (var snapshot = host.storage().openSnapshot(capsule)) {
      CapsuleMembers members = new CapsuleMembers(snapshot.metadata());
      members.validator(true).validateAppend(records, snapshot, members.changelog(snapshot));
    }
    try (Batch batch = host.storage().newBatch()) {
      for (RecordWithBody record : records) {
        batch.putRecord(record);
      }
      batch.commit();
    }
  }

  /** A chain of {@code n} records after {@code parent}. */
  static List<RecordWithBody> chain(CapsuleFixture capsule, Hash parent, int n, String tag, int subRecords) {
    List<RecordWithBody> out = new ArrayList<>();
    Hash previous = parent;
    for (int i = 0; i < n; i++) {
      RecordWithBody record = capsule.record(List.of(previous), tag + i, subRecords);
      out.add(record);
      previous = record.hash();
    }
    return out;
  }

  /** A chain of {@code n} records after the capsule, each of {@code subRecords} random 1 KiB payloads. */
  static List<RecordWithBody> randomChain(CapsuleFixture capsule, int n, int subRecords, long seed) {
    java.util.Random random = new java.util.Random(seed);
    List<RecordWithBody> out = new ArrayList<>();
    Hash parent = capsule.id();
    for (int i = 0; i < n; i++) {
      List<byte[]> payloads = new ArrayList<>();
      for (int s = 0; s < subRecords; s++) {
        byte[] p = new byte[1024];
        random.nextBytes(p);
        payloads.add(p);
      }
      RecordWithBody record = capsule.record(List.of(parent), payloads);
      out.add(record);
      parent = record.hash();
    }
    return out;
  }

  static Replicator.SessionResult sync(HostServer from, HostServer to, Hash capsule) {
    return from.replicator().syncNow(address(to), capsule, Replicator.ProgressListener.NONE).get(0);
  }

  /** Every key and value of the host's store (a daemon's store is LMDB), to show that nothing changed. */
  static SortedMap<String, SortedMap<String, String>> dump(HostServer host) {
    return ((LmdbCapsuleStorage) host.storage()).dump();
  }

  /** Asserts every host holds the same record set and heads for {@code capsule}. */
  static void assertConverged(Hash capsule, HostServer... hosts) throws Exception {
    ReplicaStore first = hosts[0].storage();
    for (HostServer host : hosts) {
      assertEquals(first.digest(capsule), host.storage().digest(capsule), "record sets differ");
      assertEquals(first.heads(capsule), host.storage().heads(capsule), "heads differ");
    }
  }

}
