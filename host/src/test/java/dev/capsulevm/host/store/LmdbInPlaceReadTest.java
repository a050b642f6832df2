package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The read path that works in place on LMDB's memory, and the parsed-record caches behind it. */
class LmdbInPlaceReadTest {
  @TempDir Path dir;
  private final CapsuleFixture capsule = new CapsuleFixture("in-place reads");

  @Test
  void decodesFromADirectBufferAtAnOffsetLikeFromAnArray() {
    Record record = capsule.record(capsule.id(), "root").record();
    byte[] stored = StoredRecords.encode(record);
    ByteBuffer buffer = ByteBuffer.allocateDirect(stored.length + 7);
    buffer.position(5);
    buffer.put(stored);
    buffer.position(5).limit(5 + stored.length);
    assertEquals(record, StoredRecords.decode(record.hash(), buffer));
    assertEquals(5, buffer.position(), "the buffer is read by index, not consumed");
    ByteBuffer truncated = buffer.duplicate().limit(5 + 30);
    assertThrows(StorageCorruptionException.class, () -> StoredRecords.decode(record.hash(), truncated));
  }

  @Test
  void aRecordParsedAfterASnapshotOpenedStaysInvisibleToIt() throws Exception {
    RecordWithBody root = capsule.record(capsule.id(), "root");
    RecordWithBody next = capsule.record(List.of(root.hash()), "next", 3);
    try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir.resolve("store"), 16L << 20, 8)) {
      commit(storage, root, null);
      try (Snapshot before = storage.openSnapshot(capsule.id())) {
        assertNotNull(before.recordOrNull(root.hash()));
        commit(storage, null, next);
        // Parsed and kept by a lookup that sees the commit...
        assertEquals(next.record(), storage.recordByHashOrNull(next.hash()));
        try (Snapshot after = storage.openSnapshot(capsule.id())) {
          assertEquals(next.record(), after.recordOrNull(next.hash()));
        }
        // ...and still not visible to the snapshot opened before it.
        assertNull(before.recordOrNull(next.hash()));
        assertNull(before.headerOrNull(next.hash()));
        assertNull(before.subRecordsOrNull(next.hash()));
        assertEquals(List.of(root.hash()), before.heads());
      }
      try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
        assertSame(snapshot.recordOrNull(next.hash()), snapshot.recordOrNull(next.hash()));
        List<byte[]> payloads = snapshot.subRecordsOrNull(next.hash());
        assertEquals(3, payloads.size());
        for (int i = 0; i < 3; i++) {
          assertArrayEquals(next.payloads().get(i), payloads.get(i));
          assertArrayEquals(next.payloads().get(i), snapshot.subRecordOrNull(next.hash(), i));
        }
      }
      // Copies outlive the transaction they were read in.
      List<byte[]> kept;
      try (Snapshot snapshot = storage.openSnapshot(capsule.id())) {
        kept = snapshot.subRecordsOrNull(next.hash());
      }
      assertArrayEquals(next.payloads().get(2), kept.get(2));
    }
  }

  private void commit(LmdbCapsuleStorage storage, RecordWithBody first, RecordWithBody second) throws Exception {
    try (Batch batch = storage.newBatch()) {
      if (first != null) {
        batch.createCapsule(capsule.metadata);
        batch.putRecord(first);
      }
      if (second != null) {
        batch.putRecord(second);
      }
      batch.commit();
    }
  }
}
