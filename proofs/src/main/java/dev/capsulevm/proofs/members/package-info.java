/**
 * Members and permissions of a version-2 or version-3 capsule (docs/FORMAT.md, "Members"): the change
 * bodies that membership records carry, the member state and its root, the proof of one member's entry,
 * the rights rules, and the resolver that turns any set of membership records into one state, the same in
 * every arrival order; for private (version-3) capsules, the keystore blocks, epoch keys and the epoch
 * rules ({@link dev.capsulevm.proofs.members.Epochs}). Public bytes only: no secret is held here.
 */
@NullMarked
package dev.capsulevm.proofs.members;

import org.jspecify.annotations.NullMarked;
