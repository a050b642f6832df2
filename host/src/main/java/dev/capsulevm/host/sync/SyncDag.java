package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One replica's view of a capsule's DAG, the seam between reconciliation and a store: the in-memory
 * {@link InMemoryDag} serves tests and the benchmark, {@code host.replication.ReplicaDag} serves the daemon.
 *
 * <p>The root (the capsule id, standing for the metadata) is always present and is not a record: it is
 * never counted, listed or sent. A store keeps {@link #digest()} up to date on every insert (one 256-bit
 * addition), so the quick check costs nothing per session.
 */
public interface SyncDag {
  /** The capsule id: the parent of every first record. */
  Hash root();

  /** Whether the record is stored here (false for the root). */
  boolean contains(Hash id);

  /** The record's parents, or null when it is not stored here. */
  @Nullable List<Hash> parents(Hash id);

  /** The sinks: stored records no stored record names as a parent, in ascending order. */
  List<Hash> heads();

  /** The number of stored records. */
  long count();

  /** The sum of the stored record ids and their count. */
  SetDigest digest();

  /** Calls {@code action} for every stored record id, in any order. */
  void forEachId(Consumer<Hash> action);

  /** An id as four big-endian 64-bit limbs (bytes 0-7, 8-15, 16-23, 24-31). */
  @FunctionalInterface
  interface LimbConsumer {
    void accept(long l0, long l1, long l2, long l3);
  }

  /**
   * Calls {@code action} for every stored record id as limbs; stores that keep ids densely override this
   * to avoid one object per id.
   */
  default void forEachIdLimbs(LimbConsumer action) {
    byte[] b = new byte[32];
    forEachId(id -> {
      id.copyTo(b, 0);
      action.accept(SessionKey.getLong(b, 0), SessionKey.getLong(b, 8), SessionKey.getLong(b, 16),
          SessionKey.getLong(b, 24));
    });
  }

  /**
   * The ids stored here with their coded symbols kept under {@code key} ({@link CodedSet}), as of now,
   * or null when this replica keeps none under that key (the session then encodes the whole set). A
   * snapshot's set is one the replica held: its digest, not {@link #digest()}, describes it.
   */
  default CodedSet.@Nullable Snapshot codedSnapshot(SessionKey key) {
    return null;
  }

  /**
   * Stores a record received from a peer; returns false when it was already stored. A record whose
   * parents are missing is accepted by the in-memory DAG; the host's {@code ReplicaDag} stages it until they arrive.
   */
  boolean add(SyncRecord record);

  /** Whether {@code id} is the root or a stored record. */
  default boolean present(Hash id) {
    return id.equals(root()) || contains(id);
  }
}
