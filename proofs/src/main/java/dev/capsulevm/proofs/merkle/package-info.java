/**
 * RFC 9162 Merkle trees (a record's sub-records are its leaves), inclusion and consistency proofs, their verifier.
 */
@NullMarked
package dev.capsulevm.proofs.merkle;

import org.jspecify.annotations.NullMarked;
