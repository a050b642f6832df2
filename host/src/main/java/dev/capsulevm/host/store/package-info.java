/**
 * The host's storage: {@link dev.capsulevm.host.store.LmdbCapsuleStorage}, the LMDB implementation of the
 * VM's {@link dev.capsulevm.vm.storage.CapsuleStorage} seam. The layout is described in host/README.md.
 */
package dev.capsulevm.host.store;
