/**
 * The renter SDK: {@link dev.capsulevm.renter.ProgramBuilder} builds programs, {@link dev.capsulevm.renter.HostClient}
 * pays for and runs them over gRPC and verifies every output, proposal and receipt ({@link
 * dev.capsulevm.renter.ProgramRun}), {@link dev.capsulevm.renter.CapsuleWriter} builds, signs and appends records,
 * and {@link dev.capsulevm.renter.AdminClient} is the operator's side (funding, status, sync now).
 */
@NullMarked
package dev.capsulevm.renter;

import org.jspecify.annotations.NullMarked;
