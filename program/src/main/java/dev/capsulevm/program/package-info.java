/**
 * The program model shared by the VM and the renter SDK: a {@link dev.capsulevm.program.Program} of
 * {@link dev.capsulevm.program.Instruction}s whose inputs are {@link dev.capsulevm.program.DataRef}
 * ranges of the program data, the canonical encodings of programs, appends and outputs, and the output
 * size bounds both sides charge by. Depends on {@code proofs} and {@code pricing} only.
 */
@NullMarked
package dev.capsulevm.program;

import org.jspecify.annotations.NullMarked;
