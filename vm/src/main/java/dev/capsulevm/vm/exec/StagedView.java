package dev.capsulevm.vm.exec;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.merkle.LeafProof;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.vm.storage.Snapshot;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The program's capsule as its instructions see it: the snapshot (null when the capsule is not stored)
 * plus the writes staged earlier in the same program. Only the running thread uses it.
 */
final class StagedView implements RecordSource {
  private final @Nullable Hash capsuleIdOrNull;
  private final @Nullable Snapshot snapshotOrNull;
  private final Map<Hash, SignedMetadata> created = new HashMap<>();
  private final Map<Hash, RecordWithBody> staged = new LinkedHashMap<>();
  /**
   * The snapshot's records at each height asked for. The snapshot does not change while the program runs,
   * and a program of many reads by height asks for the same one for every instruction, twice (its output
   * bound, then its proof): one LMDB cursor scan each.
   */
  private final Map<Long, List<Hash>> snapshotAtHeight = new HashMap<>();

  StagedView(@Nullable Hash capsuleIdOrNull, @Nullable Snapshot snapshotOrNull) {
    this.capsuleIdOrNull = capsuleIdOrNull;
    this.snapshotOrNull = snapshotOrNull;
  }

  @Nullable Hash capsuleIdOrNull() {
    return capsuleIdOrNull;
  }

  /** The program capsule's metadata, stored or staged, or null. */
  @Nullable SignedMetadata metadataOrNull() {
    if (snapshotOrNull != null) {
      return snapshotOrNull.metadata();
    }
    return capsuleIdOrNull == null ? null : created.get(capsuleIdOrNull);
  }

  boolean creates(Hash capsuleId) {
    return created.containsKey(capsuleId);
  }

  void stageCapsule(SignedMetadata metadata) {
    created.put(metadata.capsuleId(), metadata);
  }

  void stageRecords(List<RecordWithBody> records) {
    for (RecordWithBody item : records) {
      staged.put(item.hash(), item);
    }
  }

  @Override
  public @Nullable RecordHeader headerOrNull(Hash recordHash) {
    RecordWithBody item = staged.get(recordHash);
    if (item != null) {
      return item.record().header();
    }
    return snapshotOrNull == null ? null : snapshotOrNull.headerOrNull(recordHash);
  }

  @Nullable Record recordOrNull(Hash recordHash) {
    RecordWithBody item = staged.get(recordHash);
    if (item != null) {
      return item.record();
    }
    return snapshotOrNull == null ? null : snapshotOrNull.recordOrNull(recordHash);
  }

  /** A copy of sub-record {@code index} of {@code recordHash}, or null. */
  byte @Nullable [] subRecordOrNull(Hash recordHash, long index) {
    RecordWithBody item = staged.get(recordHash);
    if (item != null) {
      return index < 0 || index >= item.payloads().size() ? null : item.payloads().get((int) index).clone();
    }
    return snapshotOrNull == null ? null : snapshotOrNull.subRecordOrNull(recordHash, index);
  }

  /**
   * Sub-record {@code index}'s leaf in {@code recordHash}'s tree, or null when the record is not held or
   * has no such sub-record ({@link Snapshot#subRecordLeafOrNull}).
   */
  @Nullable LeafProof subRecordLeafOrNull(Hash recordHash, long index) {
    RecordWithBody item = staged.get(recordHash);
    if (item != null) {
      return index < 0 || index >= item.tree().size() ? null : item.tree().leafProof(index);
    }
    return snapshotOrNull == null ? null : snapshotOrNull.subRecordLeafOrNull(recordHash, index);
  }

  /**
   * The witness under which {@code recordHash}'s payloads were dropped, or null (a record the program
   * staged holds its payloads).
   */
  @Nullable Hash droppedWitnessOrNull(Hash recordHash) {
    if (staged.containsKey(recordHash)) {
      return null;
    }
    return snapshotOrNull == null ? null : snapshotOrNull.droppedWitnessOrNull(recordHash);
  }

  /** The capsule's membership records: the snapshot's and the staged ones. */
  List<Hash> membershipRecords() {
    List<Hash> out = new ArrayList<>();
    if (snapshotOrNull != null) {
      out.addAll(snapshotOrNull.membershipRecords());
    }
    for (RecordWithBody item : staged.values()) {
      if (item.record().header().kind() == RecordKind.MEMBERSHIP) {
        out.add(item.hash());
      }
    }
    return out;
  }

  /** The records at {@code height}, stored or staged, sorted; not to be changed by the caller. */
  List<Hash> recordsAtHeight(long height) {
    Snapshot snapshot = snapshotOrNull;
    List<Hash> stored = snapshot == null ? List.of()
        : snapshotAtHeight.computeIfAbsent(height, h -> List.copyOf(new TreeSet<>(snapshot.recordsAtHeight(h))));
    if (staged.isEmpty()) {
      return stored;
    }
    TreeSet<Hash> out = new TreeSet<>(stored);
    for (RecordWithBody item : staged.values()) {
      if (item.record().header().height() == height) {
        out.add(item.hash());
      }
    }
    return new ArrayList<>(out);
  }

  /** The heads, sorted, counting staged records: a staged record's parents stop being heads. */
  List<Hash> heads() {
    Set<Hash> named = new HashSet<>();
    for (RecordWithBody item : staged.values()) {
      named.addAll(item.record().header().parents());
    }
    TreeSet<Hash> out = new TreeSet<>();
    if (snapshotOrNull != null) {
      out.addAll(snapshotOrNull.heads());
    }
    out.addAll(staged.keySet());
    out.removeAll(named);
    return new ArrayList<>(out);
  }

  void close() {
    if (snapshotOrNull != null) {
      snapshotOrNull.close();
    }
  }
}
