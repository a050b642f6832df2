/**
 * The capsule model: metadata, permissions and signing policy, record headers with their skip pointers,
 * records and their validation.
 */
@NullMarked
package dev.capsulevm.proofs.capsule;

import org.jspecify.annotations.NullMarked;
