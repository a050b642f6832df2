/**
 * Anti-entropy between replicas of one capsule, as a pure core with no network and no store: a
 * {@link dev.capsulevm.host.sync.Reconciler} per side exchanges {@link dev.capsulevm.host.sync.SyncMessage}s
 * (encoded by {@link dev.capsulevm.host.sync.SyncCodec}) over a {@link dev.capsulevm.host.sync.SyncDag}.
 * The quick check compares set fingerprints; the default path streams rateless IBLT coded symbols
 * ({@link dev.capsulevm.host.sync.Riblt}) over keyed 64-bit hashes of the ids (the compact form; the
 * full form over the ids remains as {@code Reconciler.Config.FULL_IDS}); the baseline and the fallback
 * exchange Bloom filters and walk
 * missing parents from the heads. docs/PROTOCOL.md ("Reconciliation") gives the bytes.
 */
@NullMarked
package dev.capsulevm.host.sync;

import org.jspecify.annotations.NullMarked;
