/**
 * Signing keys, public keys and signatures, and the PEM files keys are kept in.
 */
@NullMarked
package dev.capsulevm.proofs.crypto;

import org.jspecify.annotations.NullMarked;
