/**
 * Replication in the host: the Sync gRPC service and the sessions it answers and opens
 * ({@link dev.capsulevm.host.replication.Replicator}, {@code SyncSession} over {@code FrameChannel},
 * {@code RecordStream}), and {@link dev.capsulevm.host.replication.ReplicaDag}, one session's view of
 * one capsule in the host's store. Records a peer sends are checked as they arrive
 * (everything that needs no other record), staged in memory, and committed once their ancestors are
 * held and a signature vouches for them, validated exactly as a renter's append.
 */
@NullMarked
package dev.capsulevm.host.replication;

import org.jspecify.annotations.NullMarked;
