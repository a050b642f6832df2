package dev.capsulevm.bench.runner;

import java.util.Arrays;

/** Repeated measurements of one quantity, reported as a median with its spread (minimum and maximum). */
final class Samples {
  /** Sorted. */
  private final double[] values;

  Samples(double[] values) {
    if (values.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    this.values = values.clone();
    Arrays.sort(this.values);
  }

  double median() {
    int n = values.length;
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  }

  double min() {
    return values[0];
  }

  double max() {
    return values[values.length - 1];
  }

  int count() {
    return values.length;
  }

  /** The median and the range, e.g. {@code 12.3 (11.9–13.0)}. */
  String format(int decimals) {
    String f = "%." + decimals + "f";
    return String.format(f + " (" + f + "–" + f + ")", median(), min(), max());
  }

  /** Times {@code task} {@code runs} times after {@code warmups} unmeasured runs; values in milliseconds. */
  static Samples timeMillis(int warmups, int runs, ThrowingRunnable task) throws Exception {
    for (int i = 0; i < warmups; i++) {
      task.run();
    }
    double[] values = new double[runs];
    for (int i = 0; i < runs; i++) {
      long start = System.nanoTime();
      task.run();
      values[i] = (System.nanoTime() - start) / 1e6;
    }
    return new Samples(values);
  }

  @FunctionalInterface
  interface ThrowingRunnable {
    void run() throws Exception;
  }
}
