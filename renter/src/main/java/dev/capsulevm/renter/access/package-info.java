/**
 * Access strings and member cards (docs/FORMAT.md, "Access strings and member cards"): one string that
 * carries what a new member needs to open a capsule (its hosts, its id, its creator's key), plain or
 * sealed with HPKE to the member's card, and the card that binds a member's X25519 encryption key to its
 * Ed25519 identity.
 */
@NullMarked
package dev.capsulevm.renter.access;

import org.jspecify.annotations.NullMarked;
