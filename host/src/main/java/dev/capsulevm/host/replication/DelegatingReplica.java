package dev.capsulevm.host.replication;

import dev.capsulevm.host.sync.CodedSet;
import dev.capsulevm.host.sync.SessionKey;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.host.sync.SyncRecord;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.vm.storage.StorageException;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/** An empty replica of capsule {@link #root()} until {@link #open} hands it the store's. */
abstract class DelegatingReplica implements SessionReplica {
  private final Hash capsule;
  private @Nullable SessionReplica inner;

  DelegatingReplica(Hash capsule) {
    this.capsule = capsule;
  }

  final void open(SessionReplica replica) {
    inner = replica;
  }

  @Override
  public Hash root() {
    return capsule;
  }

  @Override
  public boolean contains(Hash id) {
    return inner != null && inner.contains(id);
  }

  @Override
  public @Nullable List<Hash> parents(Hash id) {
    return inner == null ? null : inner.parents(id);
  }

  @Override
  public List<Hash> heads() {
    return inner == null ? List.of() : inner.heads();
  }

  @Override
  public long count() {
    return inner == null ? 0 : inner.count();
  }

  @Override
  public SetDigest digest() {
    return inner == null ? new SetDigest() : inner.digest();
  }

  @Override
  public void forEachId(Consumer<Hash> action) {
    if (inner != null) {
      inner.forEachId(action);
    }
  }

  @Override
  public void forEachIdLimbs(LimbConsumer action) {
    if (inner != null) {
      inner.forEachIdLimbs(action);
    }
  }

  @Override
  public CodedSet.@Nullable Snapshot codedSnapshot(SessionKey key) {
    SessionReplica opened = inner;
    return opened == null ? null : opened.codedSnapshot(key);
  }

  @Override
  public boolean add(SyncRecord record) {
    return opened().add(record);
  }

  @Override
  public @Nullable RecordWithBody recordOrNull(Hash id) {
    return inner == null ? null : inner.recordOrNull(id);
  }

  @Override
  public void offer(RecordWithBody record) throws InvalidPeerRecordException, StagingFullException, StorageException {
    opened().offer(record);
  }

  @Override
  public int flush() throws InvalidPeerRecordException, StorageException {
    return inner == null ? 0 : inner.flush();
  }

  @Override
  public long committed() {
    return inner == null ? 0 : inner.committed();
  }

  @Override
  public int staged() {
    return inner == null ? 0 : inner.staged();
  }

  @Override
  public void close() {
    if (inner != null) {
      inner.close();
    }
  }

  private SessionReplica opened() {
    if (inner == null) {
      throw new IllegalStateException("capsule " + capsule + " is not held yet");
    }
    return inner;
  }
}
