/**
 * The storage the VM runs against: read snapshots of one capsule, batches of staged writes committed
 * atomically, and header lookups by hash across capsules. An in-memory implementation serves tests; the
 * LMDB store implements the same interface and passes the same contract tests.
 */
@NullMarked
package dev.capsulevm.vm.storage;

import org.jspecify.annotations.NullMarked;
