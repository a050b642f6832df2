package dev.capsulevm.renter;

import java.time.Duration;

/**
 * How the SDK waits: the back-off between retries ({@link #sleep}) and the idle timeout of a program
 * ({@link #schedule}). {@link #system()} uses real time; a test passes one that records the delays and
 * fires timers when it says, so nothing depends on time.
 */
public interface Scheduler {
  /** Blocks the calling thread for {@code delay}. */
  void sleep(Duration delay) throws InterruptedException;

  /**
   * Runs {@code task} once after {@code delay}, in some other thread; returns what cancels it (a no-op
   * once it ran). The task must be short: it shares a thread with every other timer.
   */
  Runnable schedule(Duration delay, Runnable task);

  /** Real time: {@link java.util.concurrent.TimeUnit#sleep} and one shared daemon timer thread. */
  static Scheduler system() {
    return SystemScheduler.INSTANCE;
  }
}
