/**
 * The capsule VM's program data: the bytes a program's instructions reference, arriving in chunks while
 * the program runs. The executor is in {@code vm.exec}, the storage seam in {@code vm.storage}; the
 * program model itself is the {@code program} module's.
 */
@NullMarked
package dev.capsulevm.vm;

import org.jspecify.annotations.NullMarked;
