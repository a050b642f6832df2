package dev.capsulevm.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Waits for a condition, never for a length of time: a test that sleeps "long enough" fails on a busy
 * machine. The deadline only ends a hang, so it is far beyond any real wait. In proofs' test-jar because
 * every module's tests can reach it there.
 */
public final class Await {
  /** How long a condition may take before the test fails. */
  public static final Duration DEADLINE = Duration.ofSeconds(60);

  private Await() {}

  /** Returns once {@code condition} holds; fails naming {@code what} after {@link #DEADLINE}. */
  public static void until(String what, BooleanSupplier condition) throws InterruptedException {
    value(what, condition::getAsBoolean, Boolean::booleanValue);
  }

  /** Returns the first value of {@code value} that is {@code done}; fails with the last one after the deadline. */
  public static <T> T value(String what, Supplier<T> value, Predicate<? super T> done) throws InterruptedException {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (true) {
      T now = value.get();
      if (done.test(now)) {
        return now;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(what + ": not within " + DEADLINE + ", last " + now);
      }
      Thread.sleep(5); // how often to look, not how long to wait
    }
  }
}
