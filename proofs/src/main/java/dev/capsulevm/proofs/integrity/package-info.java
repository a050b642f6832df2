/**
 * Integrity proofs of records and sub-records: their generation, their verification and the renter's
 * cache of verified records.
 */
@NullMarked
package dev.capsulevm.proofs.integrity;

import org.jspecify.annotations.NullMarked;
