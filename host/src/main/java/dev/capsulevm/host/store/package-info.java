/**
 * The host's storage: {@link dev.capsulevm.host.store.LmdbCapsuleStorage}, the LMDB implementation of the
 * VM's {@link dev.capsulevm.vm.storage.CapsuleStorage} seam and of {@link dev.capsulevm.host.store.ReplicaStore}
 * (what replication and the Admin service read), a facade over package-private classes of one job each;
 * {@link dev.capsulevm.host.store.LmdbLedger}, the ledger in the same environment. The layout is described
 * in host/README.md.
 */
@NullMarked
package dev.capsulevm.host.store;

import org.jspecify.annotations.NullMarked;
