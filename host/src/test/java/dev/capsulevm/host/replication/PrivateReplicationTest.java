package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.dump;
import static dev.capsulevm.host.replication.Replicas.sync;
import static dev.capsulevm.vm.exec.PrivateCapsule.ADMIN;
import static dev.capsulevm.vm.exec.PrivateCapsule.CREATOR;
import static dev.capsulevm.vm.exec.PrivateCapsule.READER;
import static dev.capsulevm.vm.exec.PrivateCapsule.WRITER;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.exec.PrivateCapsule;
import dev.capsulevm.vm.exec.PrivateCapsule.Member;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A private capsule with rotations replicated between two hosts on loopback. Replicas apply the objective
 * rules only: a record on a branch that did not see a removal is valid by its own past and replicates,
 * though no host that holds the removal takes such a record live (STALE_EPOCH). Concurrent removals on
 * the two hosts converge to a capsule where nothing is writable until a rekey, which then replicates.
 */
class PrivateReplicationTest {
  @TempDir Path dir;

  private ScheduledExecutorService scheduler;
  private PrivateCapsule capsule;

  @BeforeEach
  void setUp() {
    scheduler = Executors.newSingleThreadScheduledExecutor();
    capsule = new PrivateCapsule(SigningPolicy.EVERY_RECORD);
  }

  @AfterEach
  void tearDown() throws Exception {
    scheduler.shutdownNow();
    assertTrue(scheduler.awaitTermination(30, TimeUnit.SECONDS));
  }

  /** A live append to {@code host}: committed (null), or the refusal. */
  private @Nullable ProgramStoppedException live(HostServer host, RecordWithBody... records) throws Exception {
    Executor executor = new Executor(host.storage(), Clock.systemUTC(), Duration.ofMinutes(1),
        Duration.ofSeconds(10), WireSizes.OUTPUT_ENVELOPE_BYTES, ExecFixture.HOST, scheduler);
    ExecFixture.Builder b = new ExecFixture.Builder(capsule.id());
    b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(List.of(records)))));
    try {
      PendingCommit pending = assertInstanceOf(PendingCommit.class, executor.run(b.program(), b.data(), b.meter(), o -> { }));
      assertFalse(pending.confirm().verify(ExecFixture.HOST.publicKey()).failed());
      capsule.hold(List.of(records));
      return null;
    } catch (ProgramStoppedException e) {
      for (RecordWithBody record : records) {
        assertFalse(host.storage().holdsRecord(capsule.id(), record.hash()), "refused, not stored");
      }
      return e;
    }
  }

  private void taken(HostServer host, RecordWithBody... records) throws Exception {
    ProgramStoppedException e = live(host, records);
    assertNull(e, () -> "refused: " + e.getMessage());
  }

  private ProgramStoppedException stale(HostServer host, RecordWithBody record) throws Exception {
    ProgramStoppedException e = live(host, record);
    assertTrue(e != null && e.reason() == ProgramStoppedException.Reason.STALE_EPOCH, String.valueOf(e));
    return e;
  }

  private RecordWithBody set(Member author, RecordWithBody parent, Member member, int bits, @Nullable Keystore block) {
    return capsule.change(author, List.of(parent.hash()), new MemberChange.SetMember(member.key(), bits), block);
  }

  private static EpochKey epochOf(RecordWithBody membershipRecord) throws Exception {
    return Keystore.parse(membershipRecord.payloads().get(1)).epochKey();
  }

  private void assertSameKeystores(HostServer a, HostServer b) throws Exception {
    try (Snapshot sa = a.storage().openSnapshot(capsule.id()); Snapshot sb = b.storage().openSnapshot(capsule.id())) {
      assertEquals(sa.membershipRecords(), sb.membershipRecords());
      for (Hash hash : sa.membershipRecords()) {
        assertEquals(sa.subRecordsOrNull(hash).size(), sb.subRecordsOrNull(hash).size());
        for (int i = 0; i < sa.subRecordsOrNull(hash).size(); i++) {
          assertArrayEquals(sa.subRecordOrNull(hash, i), sb.subRecordOrNull(hash, i), hash + " sub-record " + i);
        }
      }
    }
  }

  @Test
  void aBranchThatDidNotSeeTheRemovalReplicates_butNoHostTakesTheOldEpochLiveAfterIt() throws Exception {
    Hash id = capsule.id();
    EpochKey genesis = capsule.genesisEpoch();
    try (HostServer a = Replicas.start(dir.resolve("a")); HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, capsule.metadata);
      RecordWithBody r1 = capsule.data(WRITER, List.of(id), "one");
      taken(a, r1);
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());

      // a removes the reader; b, which has not heard of it yet, takes a record under the genesis epoch.
      RecordWithBody removal = set(CREATOR, r1, READER, 0, capsule.rotate(List.of(genesis), CREATOR, WRITER));
      taken(a, removal);
      RecordWithBody beside = capsule.data(WRITER, List.of(r1.hash()), "beside the removal");
      assertEquals(genesis, beside.record().header().epochKeyOrNull());
      taken(b, beside);

      // One session carries both ways: each record is valid by its own past.
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());
      assertConverged(id, a, b);
      assertSameKeystores(a, b);
      assertTrue(a.storage().holdsRecord(id, beside.hash()), "a replicated what it would refuse live");

      // Now both hold the removal: neither takes the genesis epoch live, on either branch.
      for (HostServer host : List.of(a, b)) {
        ProgramStoppedException e = stale(host, capsule.dataUnder(WRITER, List.of(beside.hash()), genesis, "after"));
        assertTrue(e.getMessage().contains("was retired by membership record " + removal.hash()), e.getMessage());
      }
      // At the merge the rotated epoch is current; b takes it live, a replicates it.
      RecordWithBody merged = capsule.data(WRITER, List.of(removal.hash(), beside.hash()), "merged");
      assertEquals(epochOf(removal), merged.record().header().epochKeyOrNull());
      taken(b, merged);
      assertEquals(SyncOutcome.CONVERGED, sync(a, b, id).outcome());
      assertConverged(id, a, b);
    }
  }

  @Test
  void concurrentRemovalsOnTwoHostsConverge_thenARekeyMakesDataWritableOnBoth() throws Exception {
    Hash id = capsule.id();
    EpochKey genesis = capsule.genesisEpoch();
    try (HostServer a = Replicas.start(dir.resolve("a")); HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, capsule.metadata);
      RecordWithBody r1 = capsule.data(WRITER, List.of(id), "one");
      capsule.hold(List.of(r1)); // the renter builds the next record on it before sending both
      RecordWithBody admin = set(CREATOR, r1, ADMIN, Rights.READ | Rights.ADD | Rights.ADMIN, capsule.forward(genesis, ADMIN));
      taken(a, r1, admin);
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());

      // On a the creator removes the reader; on b, at the same time, the admin removes the writer.
      RecordWithBody onA = set(CREATOR, admin, READER, 0, capsule.rotate(List.of(genesis), CREATOR, WRITER, ADMIN));
      taken(a, onA);
      RecordWithBody onB = set(ADMIN, admin, WRITER, 0, capsule.rotate(List.of(genesis), CREATOR, ADMIN, READER));
      taken(b, onB);
      // Before they sync, each host takes data under its own rotation.
      taken(a, capsule.data(CREATOR, List.of(onA.hash()), "a alone"));
      taken(b, capsule.data(CREATOR, List.of(onB.hash()), "b alone"));

      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());
      assertConverged(id, a, b);
      assertSameKeystores(a, b);

      // Each rotation is held by a member the other removed: no epoch is usable anywhere, on either host.
      List<Hash> heads = a.storage().heads(id);
      assertEquals(2, heads.size());
      assertNull(capsule.currentEpochAfter(heads));
      for (HostServer host : List.of(a, b)) {
        stale(host, capsule.dataUnder(CREATOR, List.of(onA.hash()), epochOf(onA), "on a's branch"));
        stale(host, capsule.dataUnder(CREATOR, List.of(onB.hash()), epochOf(onB), "on b's branch"));
        ProgramStoppedException e = stale(host, capsule.dataUnder(CREATOR, heads, epochOf(onA), "at the merge"));
        assertTrue(e.getMessage().contains("no epoch is usable: a member must rekey"), e.getMessage());
      }

      // A reader rekeys at the merge on a; b replicates it and takes data under it live.
      RecordWithBody rekey = capsule.change(CREATOR, heads, new MemberChange.Rekey(),
          capsule.rotate(List.of(epochOf(onA), epochOf(onB)), CREATOR, ADMIN));
      taken(a, rekey);
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());
      RecordWithBody after = capsule.data(ADMIN, List.of(rekey.hash()), "after the rekey");
      taken(b, after);
      assertEquals(SyncOutcome.CONVERGED, sync(a, b, id).outcome());
      assertConverged(id, a, b);
      assertSameKeystores(a, b);
      try (Snapshot snapshot = a.storage().openSnapshot(id)) {
        assertEquals("after the rekey",
            capsule.open(CREATOR, after.record().header(), 0, snapshot.subRecordOrNull(after.hash(), 0)));
      }
    }
  }

  @Test
  void aPeersRecordThatBreaksTheEpochRuleIsRefused_andNothingOfItIsStored() throws Exception {
    Hash id = capsule.id();
    try (HostServer a = Replicas.start(dir.resolve("a")); HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, capsule.metadata);
      RecordWithBody r1 = capsule.data(WRITER, List.of(id), "one");
      taken(a, r1);
      RecordWithBody removal = set(CREATOR, r1, READER, 0, capsule.rotate(List.of(capsule.genesisEpoch()), CREATOR, WRITER));
      taken(a, removal);
      assertEquals(SyncOutcome.CONVERGED, sync(b, a, id).outcome());

      // a stores, unchecked, a record under the old epoch on top of the removal: invalid by its own past.
      RecordWithBody invalid = capsule.dataUnder(WRITER, List.of(removal.hash()), capsule.genesisEpoch(), "stale");
      try (Batch batch = a.storage().newBatch()) {
        batch.putRecord(invalid);
        batch.commit();
      }
      SortedMap<String, SortedMap<String, String>> before = dump(b);
      Replicator.SessionResult result = sync(b, a, id);
      assertFalse(result.ok(), "a session that delivers an invalid record does not end well: " + result.outcome());
      assertTrue(String.valueOf(result.error()).contains("BAD_EPOCH"), result.error());
      assertEquals(before, dump(b));
      assertFalse(b.storage().holdsRecord(id, invalid.hash()));
    }
  }
}
