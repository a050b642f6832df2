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
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * Where the Host port's calls run, on a server whose transport hands every callback to the interceptor
 * in its own thread (gRPC's direct executor): each call gets a {@link Lane} that runs its callbacks one at
 * a time and in order, either at once in the transport's thread or on {@code pool}.
 *
 * <p>Only an Execute call's ProgramHeader, program data and readiness run at once: admitting a header and buffering
 * data never wait (CPU, in-memory state, LMDB reads), so the transport thread may run them, and the hop to
 * a pool thread that gRPC's default executor costs every message (a thread wake-up, tens of microseconds
 * to milliseconds on a busy machine) is saved where a program's latency is made. Everything else goes to
 * the pool, in the call's order, as gRPC's default executor would run it: a CommitDecision (its commit
 * waits for the disk), the renter's half-close and cancellation (either may refuse a pending commit, which
 * settles), and every callback of every other method (their handlers may wait, and a streaming
 * handler starts in {@code startCall}). The call's {@link Context} goes with each task.
 *
 * <p>An ExecuteStream call's messages and readiness run at once too: its {@link ProgramStream} only routes
 * each message to its program's own lane (which runs a header or data at once, the rest on the pool) or
 * wakes the programs, so one program's CommitDecision never holds up the stream's other programs. Its
 * half-close and cancellation go to the pool as for any call.
 */
final class CallLanes implements ServerInterceptor {
  private static final String EXECUTE = HostGrpc.getExecuteMethod().getFullMethodName();
  private static final String EXECUTE_STREAM = HostGrpc.getExecuteStreamMethod().getFullMethodName();

  /** How a method's callbacks are routed. */
  private enum Kind { EXECUTE, EXECUTE_STREAM, OTHER }

  private final Executor pool;

  CallLanes(Executor pool) {
    this.pool = pool;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    Lane lane = new Lane(pool, Context.current(), e -> call.close(
        Status.INTERNAL.withDescription("the host failed handling the call").withCause(e), new Metadata()));
    String method = call.getMethodDescriptor().getFullMethodName();
    Kind kind = method.equals(EXECUTE) ? Kind.EXECUTE
        : method.equals(EXECUTE_STREAM) ? Kind.EXECUTE_STREAM : Kind.OTHER;
    if (kind != Kind.OTHER) {
      // Both handlers only make their call's state (ExecuteCall, ProgramStream): nothing waits.
      return new Routed<>(next.startCall(call, headers), lane, kind);
    }
    Deferred<Q> deferred = new Deferred<>();
    lane.run(() -> deferred.listener = next.startCall(call, headers), false);
    return new Routed<>(deferred, lane, kind);
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

  /**
   * Sends each callback down the call's lane: at once only an Execute call's header and data and an
   * ExecuteStream call's messages.
   */
  private static final class Routed<Q> extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final Lane lane;
    private final Kind kind;

    Routed(ServerCall.Listener<Q> delegate, Lane lane, Kind kind) {
      super(delegate);
      this.lane = lane;
      this.kind = kind;
    }

    @Override
    public void onMessage(Q message) {
      boolean now = switch (kind) {
        case EXECUTE -> message instanceof ExecuteRequest request && (request.hasHeader() || request.hasData());
        case EXECUTE_STREAM -> true;
        case OTHER -> false;
      };
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
      // An Execute call's readiness only wakes its program's worker (a notify; a program stream's, each of
      // its programs' workers); it comes first on every call, so queuing it would put the header behind it
      // on the pool.
      lane.run(super::onReady, kind != Kind.OTHER);
    }
  }
}
