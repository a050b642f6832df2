/**
 * JMH benchmarks and the fixtures they share with the experiments.
 */
@NullMarked
package dev.capsulevm.bench;

import org.jspecify.annotations.NullMarked;
