/**
 * The store side of replication: a {@link dev.capsulevm.host.replication.ReplicaDag} is one sync
 * session's view of one capsule held in the LMDB store. Records a peer sends are checked as they arrive
 * (everything that needs no other record), staged in memory, and committed once their ancestors are
 * held and a signature vouches for them, validated exactly as a renter's append.
 */
package dev.capsulevm.host.replication;
