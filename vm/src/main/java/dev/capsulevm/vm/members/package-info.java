/**
 * What the host knows of each capsule's members: the record validator it keeps per capsule (whose
 * resolutions of member states are cached), the capsule's membership records parsed once, and the
 * subjective check a live append passes on top of the rules every replica applies (docs/FORMAT.md,
 * "Members"; docs/ARCHITECTURE.md says where each check runs).
 */
@NullMarked
package dev.capsulevm.vm.members;

import org.jspecify.annotations.NullMarked;
