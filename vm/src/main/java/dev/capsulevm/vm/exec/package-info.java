/**
 * The executor: runs a {@link dev.capsulevm.program.Program} against {@link dev.capsulevm.vm.storage.CapsuleStorage},
 * charging a {@link dev.capsulevm.pricing.Meter} before each instruction, streaming {@link
 * dev.capsulevm.vm.exec.InstructionOutput}s, and ending read-write programs with a {@link
 * dev.capsulevm.vm.exec.PendingCommit} the renter confirms or refuses.
 */
@NullMarked
package dev.capsulevm.vm.exec;

import org.jspecify.annotations.NullMarked;
