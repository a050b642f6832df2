/**
 * The experiment runner behind {@code capsulevm bench}: experiments, their reports and charts.
 */
@NullMarked
package dev.capsulevm.bench.runner;

import org.jspecify.annotations.NullMarked;
