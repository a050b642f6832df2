package dev.capsulevm.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.awaitility.Awaitility;

/**
 * Waits for a condition, never for a length of time: a test that sleeps "long enough" fails on a busy
 * machine. The deadline only ends a hang, so it is far beyond any real wait. Awaitility does the polling;
 * this names the project's one deadline. In proofs' test-jar because every module's tests can reach it.
 */
public final class Await {
  /** How long a condition may take before the test fails. */
  public static final Duration DEADLINE = Duration.ofSeconds(60);

  private Await() {}

  /** Returns once {@code condition} holds; fails naming {@code what} after {@link #DEADLINE}. */
  public static void until(String what, BooleanSupplier condition) {
    value(what, condition::getAsBoolean, Boolean::booleanValue);
  }

  /** Returns the first value of {@code value} that is {@code done}; fails after the deadline. */
  public static <T> T value(String what, Supplier<T> value, Predicate<? super T> done) {
    return Awaitility.await(what).atMost(DEADLINE).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5))
        .until(value::get, done::test);
  }
}
