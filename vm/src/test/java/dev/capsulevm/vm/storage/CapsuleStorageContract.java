package dev.capsulevm.vm.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The behaviour every {@link CapsuleStorage} must have. An implementation's test extends this class and
 * supplies a fresh, empty storage.
 */
public abstract class CapsuleStorageContract {
  protected abstract CapsuleStorage newStorage() throws Exception;

  private CapsuleStorage storage;
  private final CapsuleFixture capsule = new CapsuleFixture("contract capsule");

  @BeforeEach
  void setUp() throws Exception {
    storage = newStorage();
  }

  private void commit(Object... writes) throws StorageException {
    StorageFixture.commit(storage, writes);
  }

  private static List<Hash> sorted(Hash... hashes) {
    return Stream.of(hashes).sorted().toList();
  }

  @Test
  void anUnknownCapsuleHasNoSnapshot() {
    assertFalse(storage.hasCapsule(capsule.id()));
    StorageException e = assertThrows(StorageException.class, () -> storage.openSnapshot(capsule.id()));
    assertEquals(Reason.UNKNOWN_CAPSULE, e.reason());
    assertTrue(e.getMessage().contains(capsule.id().toHex()));
  }

  @Test
  void aCreatedCapsuleHasItsMetadataAndNoHeads() throws Exception {
    commit(capsule);
    assertTrue(storage.hasCapsule(capsule.id()));
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(capsule.id(), s.capsuleId());
      assertEquals(capsule.metadata, s.metadata());
      assertEquals(List.of(), s.heads());
      assertEquals(List.of(), s.recordsAtHeight(1));
    }
    assertEquals(Reason.CAPSULE_EXISTS, assertThrows(StorageException.class, () -> commit(capsule)).reason());
  }

  @Test
  void storesAChainWithHeadersSubRecordsHeightsAndHeads() throws Exception {
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    RecordWithBody r2 = capsule.record(r1.hash(), "two");
    commit(capsule, r1, r2);
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(r1.record().header(), s.headerOrNull(r1.hash()));
      assertEquals(r2.record(), s.recordOrNull(r2.hash()));
      assertEquals(List.of(r2.hash()), s.heads());
      assertEquals(List.of(r1.hash()), s.recordsAtHeight(1));
      assertEquals(List.of(r2.hash()), s.recordsAtHeight(2));
      assertEquals(List.of(), s.recordsAtHeight(3));
      assertArrayEquals("two-1".getBytes(StandardCharsets.UTF_8), s.subRecordOrNull(r2.hash(), 1));
      assertNull(s.subRecordOrNull(r2.hash(), 2));
      assertEquals(2, s.subRecordsOrNull(r1.hash()).size());
      assertNull(s.headerOrNull(capsule.id()));
    }
  }

  @Test
  void aForkHasTwoHeadsAndAMergeOne() throws Exception {
    RecordWithBody root = capsule.record(capsule.id(), "root");
    RecordWithBody a = capsule.record(root.hash(), "a");
    RecordWithBody b = capsule.record(root.hash(), "b");
    commit(capsule, root, a, b);
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(sorted(a.hash(), b.hash()), s.heads());
      assertEquals(sorted(a.hash(), b.hash()), s.recordsAtHeight(2));
    }
    RecordWithBody merge = capsule.record(List.of(a.hash(), b.hash()), "merge", 1);
    commit(merge);
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(List.of(merge.hash()), s.heads());
    }
  }

  @Test
  void aSnapshotNeverSeesLaterCommits() throws Exception {
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    commit(capsule, r1);
    try (Snapshot before = storage.openSnapshot(capsule.id())) {
      RecordWithBody r2 = capsule.record(r1.hash(), "two");
      commit(r2);
      assertNull(before.headerOrNull(r2.hash()));
      assertEquals(List.of(r1.hash()), before.heads());
      assertEquals(List.of(), before.recordsAtHeight(2));
      try (Snapshot after = storage.openSnapshot(capsule.id())) {
        assertEquals(List.of(r2.hash()), after.heads());
      }
    }
  }

  @Test
  void stagedWritesAreInvisibleUntilCommitAndGoneAfterAbort() throws Exception {
    commit(capsule);
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    Batch batch = storage.newBatch();
    batch.putRecord(r1);
    assertNull(storage.headerByHashOrNull(r1.hash()));
    batch.abort();
    assertNull(storage.headerByHashOrNull(r1.hash()));
    assertEquals(Reason.BATCH_CLOSED, assertThrows(StorageException.class, batch::commit).reason());
    assertEquals(Reason.BATCH_CLOSED, assertThrows(StorageException.class, () -> batch.putRecord(r1)).reason());
  }

  @Test
  void aRefusedCommitAppliesNothing() throws Exception {
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    RecordWithBody r2 = capsule.record(r1.hash(), "two");
    StorageException e = assertThrows(StorageException.class, () -> commit(capsule, r2));
    assertEquals(Reason.MISSING_PARENT, e.reason());
    assertTrue(e.getMessage().contains(r1.hash().toHex()), e.getMessage());
    assertFalse(storage.hasCapsule(capsule.id()));
    assertNull(storage.headerByHashOrNull(r2.hash()));
  }

  @Test
  void aRecordOfAnUnknownCapsuleIsRefused() {
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    assertEquals(Reason.UNKNOWN_CAPSULE, assertThrows(StorageException.class, () -> commit(r1)).reason());
  }

  @Test
  void storingARecordTwiceChangesNothing() throws Exception {
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    commit(capsule, r1);
    commit(r1);
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertEquals(List.of(r1.hash()), s.heads());
      assertEquals(List.of(r1.hash()), s.recordsAtHeight(1));
    }
  }

  @Test
  void headersAreFoundByHashAcrossCapsulesWithoutASnapshot() throws Exception {
    CapsuleFixture other = new CapsuleFixture("other capsule");
    RecordWithBody mine = capsule.record(capsule.id(), "mine");
    RecordWithBody theirs = other.record(other.id(), "theirs");
    commit(capsule, other, mine, theirs);
    assertEquals(mine.record().header(), storage.headerByHashOrNull(mine.hash()));
    assertEquals(theirs.record(), storage.recordByHashOrNull(theirs.hash()));
    assertNull(storage.headerByHashOrNull(capsule.id()));
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      assertNull(s.headerOrNull(theirs.hash()), "a snapshot serves its own capsule only");
    }
  }

  @Test
  void aSnapshotServesProofs() throws Exception {
    RecordWithBody r1 = capsule.record(capsule.id(), "one");
    RecordWithBody r2 = capsule.record(r1.hash(), "two");
    RecordWithBody r3 = capsule.record(r2.hash(), "three");
    commit(capsule, r1, r2, r3);
    try (Snapshot s = storage.openSnapshot(capsule.id())) {
      RecordProof proof = new ProofGenerator(s).recordProof(r3.hash(), r1.hash());
      assertEquals(r1.record().header(), proof.target());
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void snapshotsOpenedDuringCommitsAreConsistent() throws Exception {
    commit(capsule);
    List<RecordWithBody> chain = new ArrayList<>();
    Hash parent = capsule.id();
    for (int i = 0; i < 100; i++) {
      RecordWithBody r = capsule.record(parent, "r" + i);
      chain.add(r);
      parent = r.hash();
    }
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
      try {
        for (RecordWithBody r : chain) {
          commit(r);
        }
      } catch (StorageException e) {
        throw new IllegalStateException(e);
      }
    });
    long seen = 0;
    while (seen < chain.size()) {
      if (writer.isCompletedExceptionally()) {
        writer.join(); // reports the writer's failure
      }
      try (Snapshot s = storage.openSnapshot(capsule.id())) {
        List<Hash> heads = s.heads();
        if (heads.isEmpty()) {
          continue;
        }
        assertEquals(1, heads.size());
        RecordHeader head = s.headerOrNull(heads.get(0));
        assertEquals(List.of(head.hash()), s.recordsAtHeight(head.height()));
        assertEquals(List.of(), s.recordsAtHeight(head.height() + 1));
        for (long h = 1; h <= head.height(); h++) {
          assertEquals(1, s.recordsAtHeight(h).size(), "height " + h + " under head " + head.height());
        }
        assertTrue(head.height() >= seen, "snapshots never go back");
        seen = head.height();
      }
    }
    writer.get(60, TimeUnit.SECONDS);
  }

  @Test
  void aClosedSnapshotRefusesReads() throws Exception {
    commit(capsule);
    Snapshot s = storage.openSnapshot(capsule.id());
    s.close();
    assertThrows(IllegalStateException.class, s::heads);
    assertThrows(IllegalStateException.class, () -> s.headerOrNull(capsule.id()));
  }

  @Test
  void membershipRecordsAreIndexedPerCapsuleWithTheirRecords() throws Exception {
    RecordWithBody v1 = capsule.record(capsule.id(), "one");
    commit(capsule, v1);
    V2Capsule members = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody r1 = members.appendOne(members.data(TestCapsule.WRITER, List.of(members.id()), "one"));
    RecordWithBody m1 = members.appendOne(members.change(TestCapsule.CREATOR, List.of(r1.hash()),
        new MemberChange.SetMember(TestCapsule.STRANGER.publicKey(), Rights.READ | Rights.ADD)));
    RecordWithBody r2 = members.appendOne(members.data(TestCapsule.STRANGER, List.of(m1.hash()), "two"));
    RecordWithBody m2 = members.appendOne(members.change(TestCapsule.CREATOR, List.of(r2.hash()),
        new MemberChange.SetMember(TestCapsule.READER.publicKey(), 0)));
    try (Batch batch = storage.newBatch()) {
      batch.createCapsule(members.metadata);
      batch.putRecord(r1);
      batch.putRecord(m1);
      batch.putRecord(r2);
      batch.commit();
    }
    try (Snapshot before = storage.openSnapshot(members.id())) {
      assertEquals(List.of(m1.hash()), before.membershipRecords());
      commit(m2, m2); // a record stored twice is indexed once
      assertEquals(List.of(m1.hash()), before.membershipRecords(), "a snapshot never sees later commits");
    }
    try (Snapshot after = storage.openSnapshot(members.id())) {
      assertEquals(sorted(m1.hash(), m2.hash()), after.membershipRecords());
    }
    try (Snapshot other = storage.openSnapshot(capsule.id())) {
      assertEquals(List.of(), other.membershipRecords(), "a version-1 capsule has none");
    }
  }
}
