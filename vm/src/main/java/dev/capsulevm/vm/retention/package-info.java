/**
 * Retention: dropping the payloads of a version-2 capsule's data records past its retention policy,
 * keeping their headers and leaf hashes (docs/PROTOCOL.md, "Retention").
 */
@NullMarked
package dev.capsulevm.vm.retention;

import org.jspecify.annotations.NullMarked;
