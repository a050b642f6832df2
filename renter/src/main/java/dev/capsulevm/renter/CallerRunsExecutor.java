package dev.capsulevm.renter;

import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import org.jspecify.annotations.Nullable;

/**
 * The executor of one gRPC call whose caller waits for it: gRPC's transport thread queues each callback
 * here and the waiting thread runs them ({@link #drainUntilDone}), as gRPC's own blocking stubs do. A
 * response then wakes the one thread that waits for it, instead of a pool thread that wakes it in turn:
 * one thread hand-off per message instead of two.
 *
 * <p>Once the caller stops waiting (the call's end was handled, or the caller was interrupted), callbacks
 * still queued or still to come run at once in the thread that queues or releases them: what is left
 * after a program's end (the call's trailers) only closes the call. gRPC runs a call's callbacks through
 * a serializing executor of its own on top of this one, so they never run two at once or out of order,
 * whichever thread runs them.
 */
final class CallerRunsExecutor implements Executor {
  private final LinkedBlockingQueue<Runnable> queue = new LinkedBlockingQueue<>();
  /** Set once by the waiting thread; from then on callbacks run where they are queued. */
  private volatile boolean released;
  private volatile boolean done;

  @Override
  public void execute(Runnable callback) {
    if (released) {
      callback.run();
      return;
    }
    queue.add(callback);
    if (released) {
      runQueued(); // released while this was queued: the waiting thread may have missed it
    }
  }

  /** The call's outcome is known (its end or its close was handled): the waiting thread stops. */
  void done() {
    done = true;
    queue.add(CallerRunsExecutor::wake);
  }

  /** Queued by {@link #done()} so a waiting thread wakes up and sees it. */
  private static void wake() {}

  /**
   * Runs the call's callbacks in this thread until {@link #done()}, then lets the rest run where they
   * arrive.
   *
   * @throws InterruptedException when interrupted while waiting; the rest is released all the same
   */
  void drainUntilDone() throws InterruptedException {
    try {
      while (!done) {
        queue.take().run();
      }
    } finally {
      released = true;
      runQueued();
    }
  }

  private void runQueued() {
    for (@Nullable Runnable next = queue.poll(); next != null; next = queue.poll()) {
      next.run();
    }
  }
}
