package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.put;
import static dev.capsulevm.host.replication.Replicas.sync;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.store.InMemoryReplicaStore;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.InstructionOutput;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;
import dev.capsulevm.vm.storage.Snapshot;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replication of a capsule whose host dropped payloads under its retention policy: dropped records
 * travel as header, leaf hashes and witness; the replica checks the leaf hashes against the header and
 * the witness against the policy, stores them dropped, and neither fetches their payloads nor counts them
 * as missing; a peer that dropped what it had to keep is caught.
 */
class RetentionReplicationTest {
  private static final int PAYLOAD = 4096;

  @TempDir Path dir;

  /** d1, keep 2 heights, d3 .. d8, each data record holding one payload of {@link #PAYLOAD} bytes. */
  private static List<RecordWithBody> keepTwoHeights(V2Capsule v) throws Exception {
    List<RecordWithBody> chain = new ArrayList<>();
    Hash parent = v.id();
    for (int h = 1; h <= 8; h++) {
      RecordWithBody next = h == 2
          ? v.change(TestCapsule.CREATOR, List.of(parent), new MemberChange.SetRetention(RetentionPolicy.keepHeights(2)))
          : v.build(TestCapsule.WRITER, List.of(parent), List.of(payload(h)), RecordKind.DATA, true);
      v.appendOne(next);
      chain.add(next);
      parent = next.hash();
    }
    return chain;
  }

  private static byte[] payload(int h) {
    byte[] out = new byte[PAYLOAD];
    Arrays.fill(out, (byte) h);
    return out;
  }

  private static Hash witnessOf(HostServer host, Hash capsule, Hash record) throws Exception {
    try (Snapshot snapshot = host.storage().openSnapshot(capsule)) {
      return snapshot.droppedWitnessOrNull(record);
    }
  }

  @Test
  void aReplicaTakesDroppedRecordsDroppedAndNeverChasesTheirPayloads() throws Exception {
    V2Capsule v = new V2Capsule(SigningPolicy.EVERY_RECORD);
    Hash id = v.id();
    try (HostServer a = Replicas.start(dir.resolve("a")); HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, v.metadata);
      List<RecordWithBody> chain = keepTwoHeights(v);
      put(a, chain);
      while (a.retention().run(id).more()) {
        // bounded runs, until nothing is left
      }
      Hash head = chain.get(7).hash();
      List<RecordWithBody> dropped = List.of(chain.get(0), chain.get(2), chain.get(3), chain.get(4), chain.get(5));
      for (RecordWithBody record : dropped) {
        assertEquals(head, witnessOf(a, id, record.hash()), "dropped on the source under the highest head");
      }

      Replicator.SessionResult result = sync(b, a, id);
      assertEquals(SyncOutcome.CONVERGED, result.outcome(), result.error());
      assertConverged(id, a, b);
      for (RecordWithBody record : dropped) {
        assertEquals(head, witnessOf(b, id, record.hash()), "stored dropped, naming the source's witness");
      }
      try (Snapshot snapshot = b.storage().openSnapshot(id)) {
        assertNull(snapshot.subRecordOrNull(chain.get(0).hash(), 0));
        assertEquals(Merkle.leafHash(payload(1)), snapshot.subRecordTreeOrNull(chain.get(0).hash()).leafHash(0));
        assertEquals(PAYLOAD, snapshot.subRecordOrNull(chain.get(6).hash(), 0).length, "kept records travel whole");
      }
      // Three payloads travelled (two data records and the change), not eight.
      long received = java.util.Objects.requireNonNull(result.progress()).bytesReceived();
      assertTrue(received < 3 * PAYLOAD + 8 * 1024, "received " + received + " bytes");

      // Nothing is missing: the next session finds the sets equal and moves no record.
      Replicator.SessionResult again = sync(b, a, id);
      assertEquals(SyncOutcome.EQUAL, again.outcome(), again.error());
      assertEquals(0, java.util.Objects.requireNonNull(again.progress()).recordsReceived());

      // The replica answers a read of a dropped sub-record verifiably too.
      ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
      try {
        Executor executor = new Executor(b.storage(), Clock.systemUTC(), Duration.ofMinutes(1), Duration.ofSeconds(10),
            WireSizes.OUTPUT_ENVELOPE_BYTES, ExecFixture.HOST, scheduler);
        ExecFixture.Builder p = new ExecFixture.Builder(id);
        p.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(p.put(chain.get(0).hash())), 0, p.put(head)));
        List<InstructionOutput> outputs = new ArrayList<>();
        executor.run(p.program(), p.data(), p.meter(), outputs::add);
        Output.SubRecordDropped answer = assertInstanceOf(Output.SubRecordDropped.class, outputs.get(0).output());
        new ProofVerifier(null).verifyDropped(head, chain.get(0).hash(), 0, answer.leafHash(), answer.proof(),
            answer.witnessProof());
      } finally {
        scheduler.shutdownNow();
        assertTrue(scheduler.awaitTermination(30, TimeUnit.SECONDS));
      }
    }
  }

  @Test
  void aPeerThatDroppedAPayloadItHadToKeepIsCaught() throws Exception {
    V2Capsule v = new V2Capsule(SigningPolicy.EVERY_RECORD);
    Hash id = v.id();
    try (HostServer a = Replicas.start(dir.resolve("a")); HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, v.metadata);
      List<RecordWithBody> chain = keepTwoHeights(v);
      put(a, chain);
      Hash d7 = chain.get(6).hash();
      // d7 is among the newest 2 heights: a drops it anyway, naming d8 as witness.
      try (Batch batch = a.storage().newBatch()) {
        batch.dropPayloads(id, d7, chain.get(7).hash(), null, Amount.of(0));
        batch.commit();
      }
      Replicator.SessionResult result = sync(b, a, id);
      assertFalse(result.ok(), "a session that delivers a wrongly dropped record does not end well");
      assertTrue(String.valueOf(result.error()).contains("NOT_DROPPABLE")
          && String.valueOf(result.error()).contains(d7.toString()), result.error());
      assertFalse(b.storage().holdsRecord(id, d7));
    }
  }

  @Test
  void aDroppedRecordWaitsForItsWitnessWhenItComesInALaterBatch() throws Exception {
    V2Capsule v = new V2Capsule(SigningPolicy.EVERY_RECORD);
    Hash id = v.id();
    List<RecordWithBody> chain = keepTwoHeights(v);
    Hash witness = chain.get(7).hash();
    InMemoryReplicaStore store = new InMemoryReplicaStore(new InMemoryCapsuleStorage());
    try (Batch batch = store.newBatch()) {
      batch.createCapsule(v.metadata);
      batch.commit();
    }
    // Commits after every ready record: d1 comes dropped long before its witness d8 exists here.
    ReplicaDag dag = new ReplicaDag(store, id, new ReplicaDag.Limits(1 << 16, 1L << 30, 1));
    for (RecordWithBody record : chain) {
      RecordWithBody sent = record.hash().equals(chain.get(0).hash())
          ? RecordWithBody.dropped(record.record(), record.tree(), witness) : record;
      dag.offer(sent);
      boolean witnessArrived = record.hash().equals(witness);
      assertEquals(witnessArrived, store.holdsRecord(id, chain.get(0).hash()),
          "d1 and everything above it wait for d8, then go in one batch");
    }
    assertEquals(8, dag.committed());
    try (Snapshot snapshot = store.openSnapshot(id)) {
      assertEquals(witness, snapshot.droppedWitnessOrNull(chain.get(0).hash()));
    }
    dag.close();
  }
}
