/**
 * Hand-written companions of the generated wire classes (those are in {@code dev.capsulevm.proto.v1}).
 */
@NullMarked
package dev.capsulevm.proto;

import org.jspecify.annotations.NullMarked;
