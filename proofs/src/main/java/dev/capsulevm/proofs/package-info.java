/**
 * Hashes, domain separation and canonical decoding shared by the capsule model, signatures, Merkle
 * trees and integrity proofs in the subpackages.
 */
@NullMarked
package dev.capsulevm.proofs;

import org.jspecify.annotations.NullMarked;
