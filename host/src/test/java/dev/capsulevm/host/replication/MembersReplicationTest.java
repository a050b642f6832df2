package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.dump;
import static dev.capsulevm.host.replication.Replicas.put;
import static dev.capsulevm.host.replication.Replicas.sync;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A version-2 capsule with membership changes replicated between hosts on loopback: replicas judge a
 * peer's records by the objective rule only (each by the members before it, the batch's own changes
 * counted in order), while each host's live appends also answer to the members it holds now.
 */
class MembersReplicationTest {
  private static final SigningKey CREATOR = TestCapsule.CREATOR;
  private static final SigningKey WRITER = TestCapsule.WRITER;
  private static final SigningKey ADMIN = ExecFixture.key(0x71);
  private static final SigningKey NEWCOMER = ExecFixture.key(0x72);
  private static final SigningKey LATECOMER = ExecFixture.key(0x73);

  @TempDir Path dir;

  private static RecordWithBody set(V2Capsule v, SigningKey author, List<Hash> parents, SigningKey member, int bits)
      throws Exception {
    return v.appendOne(v.change(author, parents, new MemberChange.SetMember(member.publicKey(), bits)));
  }

  private static List<Hash> membershipRecords(HostServer host, Hash capsule) throws Exception {
    try (Snapshot snapshot = host.storage().openSnapshot(capsule)) {
      return snapshot.membershipRecords();
    }
  }

  /** A live append of {@code record} to {@code host}'s store through an executor, refused. */
  private static ProgramStoppedException refusedLive(HostServer host, RecordWithBody record) throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      Executor executor = new Executor(host.storage(), Clock.systemUTC(), Duration.ofMinutes(1),
          Duration.ofSeconds(10), WireSizes.OUTPUT_ENVELOPE_BYTES, ExecFixture.HOST, scheduler);
      ExecFixture.Builder b = new ExecFixture.Builder(record.record().header().capsuleId());
      b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(record)))));
      ProgramStoppedException e = assertThrows(ProgramStoppedException.class,
          () -> executor.run(b.program(), b.data(), b.meter(), o -> { }));
      assertEquals(ProgramStoppedException.Reason.WRITER_NOT_ALLOWED, e.reason(), e.getMessage());
      return e;
    } finally {
      scheduler.shutdownNow();
      assertTrue(scheduler.awaitTermination(30, TimeUnit.SECONDS));
    }
  }

  @Test
  void aReplicaLearnsTheChangelogJudgesObjectivelyAndRefusesLiveWhatItsSourceRefuses() throws Exception {
    V2Capsule v = new V2Capsule(SigningPolicy.EVERY_RECORD);
    Hash id = v.id();
    try (HostServer a = Replicas.start(dir.resolve("a")); HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, v.metadata);
      RecordWithBody r1 = v.appendOne(v.data(WRITER, List.of(id), "one"));
      RecordWithBody admin = set(v, CREATOR, List.of(r1.hash()), ADMIN, Rights.READ | Rights.ADD | Rights.ADMIN);
      RecordWithBody added = set(v, ADMIN, List.of(admin.hash()), NEWCOMER, Rights.READ | Rights.ADD);
      RecordWithBody byNewcomer = v.appendOne(v.data(NEWCOMER, List.of(added.hash()), "newcomer"));
      RecordWithBody removed = set(v, ADMIN, List.of(byNewcomer.hash()), WRITER, 0);
      put(a, List.of(r1, admin, added, byNewcomer, removed));

      // A fresh replica fetches the metadata and every record, membership records included.
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());
      assertConverged(id, a, b);
      assertEquals(membershipRecords(a, id), membershipRecords(b, id));
      assertEquals(3, membershipRecords(b, id).size());

      // Both refuse the removed writer live: on top of the removal, and beside it on an older parent.
      RecordWithBody onTop = v.data(WRITER, List.of(removed.hash()), "on top of the removal");
      RecordWithBody beside = v.data(WRITER, List.of(byNewcomer.hash()), "beside the removal");
      for (HostServer host : List.of(a, b)) {
        for (RecordWithBody refused : List.of(onTop, beside)) {
          ProgramStoppedException e = refusedLive(host, refused);
          assertTrue(e.getMessage().contains("key " + WRITER.publicKey().toHex() + " is not a member")
              && e.getMessage().contains("membership record " + removed.hash()), e.getMessage());
          assertFalse(host.storage().holdsRecord(id, refused.hash()));
        }
      }

      // The record beside the removal is valid by its own past: a host that accepted it (here a,
      // stored as replication would) passes it on, and the replica takes it from its peer.
      v.appendOne(beside);
      put(a, List.of(beside));
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());
      assertTrue(b.storage().holdsRecord(id, beside.hash()));

      // b's changelog is old: a newcomer is added on a and writes at once; b learns the change from the
      // same batch before it judges the record that needs it.
      RecordWithBody late = set(v, CREATOR, List.of(beside.hash(), removed.hash()), LATECOMER, Rights.ADD);
      RecordWithBody byLatecomer = v.appendOne(v.data(LATECOMER, List.of(late.hash()), "latecomer"));
      put(a, List.of(late, byLatecomer));
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());
      assertConverged(id, a, b);
      assertEquals(membershipRecords(a, id), membershipRecords(b, id));

      // A record by a writer without the right, on a peer that stored it unchecked, is an invalid
      // record from that peer: b stores nothing of it.
      List<byte[]> payloads = List.of("after the removal".getBytes(StandardCharsets.UTF_8));
      RecordWithBody invalid = v.build(WRITER, List.of(byLatecomer.hash()), payloads, RecordKind.DATA, true);
      try (Batch batch = a.storage().newBatch()) {
        batch.putRecord(invalid);
        batch.commit();
      }
      SortedMap<String, SortedMap<String, String>> before = dump(b);
      Replicator.SessionResult result = sync(b, a, id);
      assertFalse(result.ok(), "a session that delivers an invalid record does not end well: " + result.outcome());
      assertTrue(String.valueOf(result.error()).contains("WRITER_NOT_ALLOWED"), result.error());
      assertEquals(before, dump(b));
      assertFalse(b.storage().holdsRecord(id, invalid.hash()));
    }
  }
}
