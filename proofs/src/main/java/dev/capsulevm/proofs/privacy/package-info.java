/**
 * The cryptography of private capsules (docs/FORMAT.md, "Private capsules: encryption"): epoch secrets and
 * the X25519 epoch key pairs they derive, their wraps for members and links to earlier epochs, and the
 * per-record payload cipher. One HPKE suite (RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * ChaCha20Poly1305) and ChaCha20-Poly1305 (RFC 8439), all through Bouncy Castle. Pure computation: no I/O,
 * nothing logged, and no secret byte in any {@code toString} or exception message.
 */
@NullMarked
package dev.capsulevm.proofs.privacy;

import org.jspecify.annotations.NullMarked;
