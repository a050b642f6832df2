package dev.capsulevm.host.server;

import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import io.grpc.Context;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the Host port's calls run, on a server whose transport hands every callback to the interceptor
 * in its own thread (gRPC's direct executor): each call gets a lane that runs its callbacks one at a time
 * and in order, either at once in the transport's thread or on {@code pool}.
 *
 * <p>Only an Execute call's ProgramHeader, program data and readiness run at once: admitting a header and buffering
 * data never wait (CPU, in-memory state, LMDB reads), so the transport thread may run them, and the hop to
 * a pool thread that gRPC's default executor costs every message (a thread wake-up, tens of microseconds
 * to milliseconds on a busy machine) is saved where a program's latency is made. Everything else goes to
 * the pool, in the call's order, as gRPC's default executor would run it: a CommitDecision (its commit
 * waits for the disk), the renter's half-close and cancellation (either may refuse a pending commit, which
 * settles), and every callback of every other method (their handlers may wait, and a streaming
 * handler starts in {@code startCall}). The call's {@link Context} goes with each task.
 */
final class CallLanes implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(CallLanes.class);
  private static final String EXECUTE = HostGrpc.getExecuteMethod().getFullMethodName();

  private final Executor pool;

  CallLanes(Executor pool) {
    this.pool = pool;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    Lane lane = new Lane(pool, call, Context.current());
    boolean execute = call.getMethodDescriptor().getFullMethodName().equals(EXECUTE);
    if (execute) {
      return new Routed<>(next.startCall(call, headers), lane, true);
    }
    Deferred<Q> deferred = new Deferred<>();
    lane.run(() -> deferred.listener = next.startCall(call, headers), false);
    return new Routed<>(deferred, lane, false);
  }

  /** A listener that {@code startCall} makes on the pool; every later callback runs after it there. */
  private static final class Deferred<Q> extends ServerCall.Listener<Q> {
    private ServerCall.@Nullable Listener<Q> listener;

    private ServerCall.Listener<Q> delegate() {
      ServerCall.Listener<Q> made = listener;
      if (made == null) {
        throw new IllegalStateException("startCall did not return a listener");
      }
      return made;
    }

    @Override
    public void onMessage(Q message) {
      delegate().onMessage(message);
    }

    @Override
    public void onHalfClose() {
      delegate().onHalfClose();
    }

    @Override
    public void onCancel() {
      delegate().onCancel();
    }

    @Override
    public void onComplete() {
      delegate().onComplete();
    }

    @Override
    public void onReady() {
      delegate().onReady();
    }
  }

  /** Sends each callback down the call's lane: at once only an Execute call's header and data. */
  private static final class Routed<Q> extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final Lane lane;
    private final boolean execute;

    Routed(ServerCall.Listener<Q> delegate, Lane lane, boolean execute) {
      super(delegate);
      this.lane = lane;
      this.execute = execute;
    }

    @Override
    public void onMessage(Q message) {
      boolean now = execute && message instanceof ExecuteRequest request
          && (request.hasHeader() || request.hasData());
      lane.run(() -> super.onMessage(message), now);
    }

    @Override
    public void onHalfClose() {
      lane.run(super::onHalfClose, false);
    }

    @Override
    public void onCancel() {
      lane.run(super::onCancel, false);
    }

    @Override
    public void onComplete() {
      lane.run(super::onComplete, false);
    }

    @Override
    public void onReady() {
      // An Execute call's readiness only wakes its program's worker (a notify); it comes first on every
      // call, so queuing it would put the header behind it on the pool.
      lane.run(super::onReady, execute);
    }
  }

  /**
   * One call's callbacks, one at a time and in order: a task may run at once in the caller's thread only
   * when nothing of the call is running or waiting; otherwise it waits its turn on the pool.
   */
  private static final class Lane {
    private final Executor pool;
    private final ServerCall<?, ?> call;
    private final Context context;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    /** Whether a task runs now or the pool has been asked to drain the waiting ones. */
    private boolean busy;

    Lane(Executor pool, ServerCall<?, ?> call, Context context) {
      this.pool = pool;
      this.call = call;
      this.context = context;
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
        drain(); // shutting down: the call's last callbacks run here rather than never
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

    /** Runs a callback; one that throws closes the call, as gRPC does for a listener that throws. */
    private void runGuarded(Runnable task) {
      try {
        task.run();
      } catch (RuntimeException | Error e) {
        log.error("a call's handler failed", e);
        try {
          call.close(Status.INTERNAL.withDescription("the host failed handling the call").withCause(e), new Metadata());
        } catch (RuntimeException closed) {
          log.debug("could not close the call", closed);
        }
      }
    }
  }
}
