package dev.capsulevm.host.server;

import io.grpc.Context;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call's callbacks (or one program's on a program stream), one at a time and in order: a task may run
 * at once in the caller's thread only when nothing of the lane is running or waiting; otherwise it waits
 * its turn on the pool. {@link CallLanes} gives every call one; {@link ProgramStream} every program.
 */
final class Lane {
  private static final Logger log = LoggerFactory.getLogger(Lane.class);

  private final Executor pool;
  private final Context context;
  /** Told of a task that threw, after it was logged; it ends what the lane runs for (a call, a program). */
  private final Consumer<Throwable> onFailure;
  private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
  /** Whether a task runs now or the pool has been asked to drain the waiting ones. */
  private boolean busy;

  Lane(Executor pool, Context context, Consumer<Throwable> onFailure) {
    this.pool = pool;
    this.context = context;
    this.onFailure = onFailure;
  }

  void run(Runnable task, boolean now) {
    boolean inline;
    synchronized (this) {
      inline = now && !busy;
      if (!inline) {
        waiting.add(task);
        if (busy) {
          return; // whoever is busy drains it, in order
        }
      }
      busy = true;
    }
    if (!inline) {
      schedule();
      return;
    }
    try {
      runGuarded(context.wrap(task));
    } finally {
      boolean more;
      synchronized (this) {
        more = !waiting.isEmpty();
        busy = more;
      }
      if (more) {
        schedule();
      }
    }
  }

  private void schedule() {
    try {
      pool.execute(this::drain);
    } catch (RejectedExecutionException e) {
      drain(); // shutting down: the lane's last callbacks run here rather than never
    }
  }

  private void drain() {
    while (true) {
      Runnable next;
      synchronized (this) {
        next = waiting.poll();
        if (next == null) {
          busy = false;
          return;
        }
      }
      runGuarded(context.wrap(next));
    }
  }

  /** Runs a callback; one that throws goes to the failure handler, as gRPC closes a call whose listener throws. */
  private void runGuarded(Runnable task) {
    try {
      task.run();
    } catch (RuntimeException | Error e) {
      log.error("a call's handler failed", e);
      try {
        onFailure.accept(e);
      } catch (RuntimeException failed) {
        log.debug("could not end what the failed handler ran for", failed);
      }
    }
  }
}
