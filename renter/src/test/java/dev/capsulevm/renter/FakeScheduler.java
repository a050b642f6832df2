package dev.capsulevm.renter;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link Scheduler} without time: {@link #sleep} returns at once and records the delay, and a scheduled
 * task runs only when the test calls {@link #fire()}.
 */
final class FakeScheduler implements Scheduler {
  /** Every delay slept, in order. */
  final List<Duration> sleeps = new CopyOnWriteArrayList<>();
  private final List<Timer> timers = new ArrayList<>();

  private static final class Timer {
    final Duration delay;
    final Runnable task;
    boolean done;

    Timer(Duration delay, Runnable task) {
      this.delay = delay;
      this.task = task;
    }
  }

  @Override
  public void sleep(Duration delay) {
    sleeps.add(delay);
  }

  @Override
  public synchronized Runnable schedule(Duration delay, Runnable task) {
    Timer timer = new Timer(delay, task);
    timers.add(timer);
    return () -> {
      synchronized (this) {
        timer.done = true;
      }
    };
  }

  /** The delays of the timers neither cancelled nor fired. */
  synchronized List<Duration> pending() {
    List<Duration> delays = new ArrayList<>();
    for (Timer timer : timers) {
      if (!timer.done) {
        delays.add(timer.delay);
      }
    }
    return delays;
  }

  /** Runs the pending timer scheduled last, in this thread, as if its delay had passed. */
  void fireLast() {
    Runnable due = null;
    synchronized (this) {
      for (int i = timers.size() - 1; i >= 0 && due == null; i--) {
        Timer timer = timers.get(i);
        if (!timer.done) {
          timer.done = true;
          due = timer.task;
        }
      }
    }
    if (due != null) {
      due.run();
    }
  }

  /** Runs every pending timer, in this thread, as if its delay had passed. */
  void fire() {
    List<Runnable> due = new ArrayList<>();
    synchronized (this) {
      for (Timer timer : timers) {
        if (!timer.done) {
          timer.done = true;
          due.add(timer.task);
        }
      }
    }
    due.forEach(Runnable::run);
  }
}
