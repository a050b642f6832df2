/**
 * Misbehaviour evidence: two receipts signed by one host that contradict each other about one record,
 * in a file anyone can check offline with nothing but the file (docs/FORMAT.md, "Evidence").
 */
@NullMarked
package dev.capsulevm.renter.evidence;

import org.jspecify.annotations.NullMarked;
