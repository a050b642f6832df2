package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StorageFixture;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** What every {@link ReplicaStore} answers: the set digests and the reads replication uses. */
abstract class ReplicaStoreContract {
  final CapsuleFixture capsule = new CapsuleFixture("digest capsule");
  final CapsuleFixture other = new CapsuleFixture("other digest capsule");

  /** An empty store, closed after the test. */
  abstract ReplicaStore open() throws Exception;

  static void commit(CapsuleStorage storage, Object... writes) throws StorageException {
    StorageFixture.commit(storage, writes);
  }

  static SetDigest digestOf(List<RecordWithBody> records) {
    SetDigest d = new SetDigest();
    records.forEach(r -> d.add(r.hash()));
    return d;
  }

  /** A chain of {@code n} records with a fork of two at the end. */
  static List<RecordWithBody> records(CapsuleFixture c, int n) {
    List<RecordWithBody> out = new ArrayList<>();
    Hash parent = c.id();
    for (int i = 0; i < n; i++) {
      RecordWithBody r = c.record(parent, "r" + i);
      out.add(r);
      parent = r.hash();
    }
    out.add(c.record(out.get(n - 2).hash(), "fork"));
    return out;
  }

  @Test
  void digest_newCapsule_emptyThenMovedOncePerNewRecord() throws Exception {
    ReplicaStore storage = open();
    commit(storage, capsule, other);
    assertEquals(new SetDigest(), storage.digest(capsule.id()));
    List<RecordWithBody> records = records(capsule, 6);
    commit(storage, records.subList(0, 3).toArray());
    assertEquals(digestOf(records.subList(0, 3)), storage.digest(capsule.id()));
    // the first three again, with the rest: only the new ones move it
    commit(storage, records.toArray());
    commit(storage, records.get(4));
    assertEquals(digestOf(records), storage.digest(capsule.id()));
    assertEquals(records.size(), storage.digest(capsule.id()).count());
    assertEquals(new SetDigest(), storage.digest(other.id()), "another capsule's digest does not move");
  }

  @Test
  void onRecordsStored_hearsEveryNewRecordOfACommitAfterIt() throws Exception {
    ReplicaStore storage = open();
    java.util.Map<Hash, Set<Hash>> heard = new java.util.HashMap<>();
    List<String> seenStored = new ArrayList<>();
    storage.onRecordsStored((capsuleId, ids) -> {
      for (Hash id : ids) {
        // the call comes after the commit: a read sees the record
        if (!storage.holdsRecord(capsuleId, id)) {
          seenStored.add("not yet stored: " + id);
        }
        heard.computeIfAbsent(capsuleId, c -> new HashSet<>()).add(id);
      }
    });
    commit(storage, capsule, other);
    assertTrue(heard.isEmpty(), "creating capsules stores no record");
    List<RecordWithBody> records = records(capsule, 6);
    RecordWithBody foreign = other.record(other.id(), "foreign");
    commit(storage, records.subList(0, 3).toArray());
    commit(storage, records.get(3), records.get(4), records.get(5), records.get(6), foreign);
    Set<Hash> expected = new HashSet<>();
    records.forEach(r -> expected.add(r.hash()));
    assertEquals(expected, heard.get(capsule.id()));
    assertEquals(Set.of(foreign.hash()), heard.get(other.id()));
    assertEquals(List.of(), seenStored);
    // a refused commit is heard of never; a removed listener no more
    CapsuleFixture notCreated = new CapsuleFixture("not created");
    RecordWithBody unknown = notCreated.record(notCreated.id(), "x");
    assertThrows(StorageException.class, () -> commit(storage, unknown));
    storage.onRecordsStored(null);
    commit(storage, other.record(foreign.hash(), "after"));
    assertEquals(Set.of(foreign.hash()), heard.get(other.id()));
    assertEquals(2, heard.size());
  }

  @Test
  void digest_unknownCapsule_throwsUnknownCapsule() throws Exception {
    ReplicaStore storage = open();
    StorageException e = assertThrows(StorageException.class, () -> storage.digest(capsule.id()));
    assertEquals(StorageException.Reason.UNKNOWN_CAPSULE, e.reason());
  }

  @Test
  void replicationReads_answerForTheirCapsuleOnly() throws Exception {
    ReplicaStore storage = open();
    commit(storage, capsule, other);
    List<RecordWithBody> records = records(capsule, 5);
    RecordWithBody foreign = other.record(other.id(), "foreign");
    commit(storage, records.toArray());
    commit(storage, foreign);

    Set<Hash> ids = new HashSet<>();
    byte[] bytes = new byte[32];
    storage.forEachRecordId(capsule.id(), (l0, l1, l2, l3) -> {
      ByteBuffer.wrap(bytes).putLong(l0).putLong(l1).putLong(l2).putLong(l3);
      assertTrue(ids.add(Hash.copyOf(bytes)), "each id once");
    });
    Set<Hash> expected = new HashSet<>();
    records.forEach(r -> expected.add(r.hash()));
    assertEquals(expected, ids);

    RecordWithBody last = records.get(records.size() - 1);
    assertTrue(storage.holdsRecord(capsule.id(), last.hash()));
    assertFalse(storage.holdsRecord(other.id(), last.hash()));
    assertFalse(storage.holdsRecord(capsule.id(), foreign.hash()));
    assertEquals(last.record().header().parents(), storage.parentsOrNull(capsule.id(), last.hash()));
    assertNull(storage.parentsOrNull(capsule.id(), foreign.hash()));
    assertEquals(new ArrayList<>(new TreeSet<>(List.of(records.get(4).hash(), last.hash()))),
        storage.heads(capsule.id()));
    assertEquals(List.of(), storage.heads(Hash.copyOf(new byte[32])));

    RecordWithBody read = storage.recordWithBodyOrNull(capsule.id(), records.get(2).hash());
    assertEquals(records.get(2).record(), read.record());
    assertEquals(records.get(2).payloads().size(), read.payloads().size());
    for (int i = 0; i < read.payloads().size(); i++) {
      assertArrayEquals(records.get(2).payloads().get(i), read.payloads().get(i));
    }
    assertNull(storage.recordWithBodyOrNull(capsule.id(), foreign.hash()));

    assertEquals(capsule.metadata, storage.metadataOrNull(capsule.id()));
    assertNull(storage.metadataOrNull(Hash.copyOf(new byte[32])));
    assertEquals(new ArrayList<>(new TreeSet<>(List.of(capsule.id(), other.id()))), storage.capsuleIds());
    assertEquals(2, storage.capsuleCount());
    assertNotEquals(storage.digest(capsule.id()), storage.digest(other.id()));
  }
}
