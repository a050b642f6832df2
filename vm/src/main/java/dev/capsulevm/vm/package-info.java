/**
 * The capsule VM: programs and their instructions, program data that arrives in chunks, and the storage
 * interface the VM reads snapshots from and commits batches to. Depends on {@code proofs} and
 * {@code pricing} only.
 */
package dev.capsulevm.vm;
