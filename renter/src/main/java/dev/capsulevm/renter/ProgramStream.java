package dev.capsulevm.renter;

import com.google.common.util.concurrent.MoreExecutors;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.ProgramStatus;
import dev.capsulevm.proto.v1.StreamRequest;
import dev.capsulevm.proto.v1.StreamResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * One client's program stream (docs/PROTOCOL.md, "Program streams"): a long-lived {@code ExecuteStream}
 * call that carries many programs, each as its own {@code Execute} call would. A program gets a
 * {@link Lane}: the observer its {@link ProgramRun} sends on, whose messages go out under the program's
 * number, and whose responses come back to the run's observer on the run's own executor, ending with
 * {@code onCompleted} or {@code onError} of the status the host states for it. The run cannot tell a lane
 * from a call.
 *
 * <p>The call's callbacks run in the transport's thread and only route: a response is handed to its
 * lane's executor (the thread waiting for the program, or a sequential executor of the client's pool), so
 * one program's verification never holds up another's responses. A program's deadline is a timer here
 * (a call's would be gRPC's): when it fires the program is cancelled at the host and its run sees
 * DEADLINE_EXCEEDED. When the stream breaks, every program on it sees the stream's error, as each call
 * would, and the next program opens a new stream.
 */
final class ProgramStream {
  private final HostGrpc.HostStub stub;
  private final Scheduler scheduler;
  private final Object lock = new Object();
  private @Nullable Open open;
  private boolean closed;
  /** The host answered ExecuteStream UNIMPLEMENTED (an older host): the client uses Execute calls only. */
  private volatile boolean unsupported;

  /** {@code stub} without an executor of its own: the stream's callbacks only route, in the transport. */
  ProgramStream(HostGrpc.HostStub stub, Scheduler scheduler) {
    this.stub = stub.withExecutor(MoreExecutors.directExecutor());
    this.scheduler = scheduler;
  }

  /**
   * A lane for one program: what it sends goes to the host under its number (given at its first message,
   * so numbers rise in the order programs reach the wire), what the host sends about it goes to {@code
   * responses} on {@code executor}, which must run tasks one at a time in order. Cancelled at the host
   * when {@code deadline} passes.
   */
  Lane lane(StreamObserver<ExecuteResponse> responses, Executor executor, Duration deadline) {
    Open stream;
    synchronized (lock) {
      if (open == null || open.broken) {
        open = new Open();
        open.start(closed);
      }
      stream = open;
    }
    Lane lane = new Lane(stream, responses, executor);
    lane.timerOrNull = scheduler.schedule(deadline, () -> lane.expire(deadline));
    return lane;
  }

  /** False once the host has said it has no program streams. */
  boolean usable() {
    return !unsupported;
  }

  /** Half-closes the stream: programs on it run to their ends, then the host closes it; no new ones. */
  void close() {
    Open stream;
    synchronized (lock) {
      closed = true;
      stream = open;
      open = null;
    }
    if (stream != null) {
      stream.halfClose();
    }
  }

  /**
   * Whether {@code t} is a program's own deadline passing on a stream (its timer here), as against a
   * DEADLINE_EXCEEDED status the host sent.
   */
  static boolean deadlinePassed(Throwable t) {
    return Status.fromThrowable(t).getCause() instanceof DeadlinePassed;
  }

  /** Marks the DEADLINE_EXCEEDED a lane's timer gives its run. */
  private static final class DeadlinePassed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DeadlinePassed() {
      super("the program's deadline passed", null, false, false);
    }
  }

  /** One ExecuteStream call and the programs running on it. */
  private final class Open implements StreamObserver<StreamResponse> {
    private final Map<Long, Lane> lanes = new ConcurrentHashMap<>();
    /** Guards sends, numbering and {@link #broken} (gRPC's request observer is not thread-safe). */
    private final Object sends = new Object();
    private @Nullable StreamObserver<StreamRequest> requests;
    private long lastNumber;
    private volatile boolean broken;
    private volatile @Nullable Throwable breakage;

    void start(boolean refused) {
      if (refused) {
        breakWith(Status.UNAVAILABLE.withDescription("the client is closed").asRuntimeException());
        return;
      }
      try {
        requests = stub.executeStream(this);
      } catch (RuntimeException e) {
        breakWith(e);
      }
    }

    /** Sends {@code message} of {@code lane}, numbering the lane at its first message; false when broken. */
    boolean send(Lane lane, StreamRequest.Builder message) {
      RuntimeException failure;
      synchronized (sends) {
        StreamObserver<StreamRequest> out = requests;
        if (broken || out == null) {
          return false;
        }
        if (lane.number == 0) {
          if (lane.ended()) {
            return false; // cancelled or expired before its first message: it never reaches the host
          }
          lane.number = ++lastNumber;
          lanes.put(lane.number, lane);
        }
        try {
          out.onNext(message.setProgram(lane.number).build());
          return true;
        } catch (RuntimeException e) {
          failure = e;
        }
      }
      // The call is gone (its onError may never come). Outside the lock: failing the programs may run a
      // run's handler here, which may send.
      breakWith(failure);
      return false;
    }

    void halfClose() {
      synchronized (sends) {
        StreamObserver<StreamRequest> out = requests;
        if (broken || out == null) {
          return;
        }
        try {
          out.onCompleted();
        } catch (RuntimeException ignored) {
          // closed already
        }
      }
    }

    @Override
    public void onNext(StreamResponse response) {
      Lane lane = response.hasStatus() ? lanes.remove(response.getProgram()) : lanes.get(response.getProgram());
      if (lane != null) {
        lane.deliver(response);
      }
    }

    @Override
    public void onError(Throwable t) {
      breakWith(t);
    }

    @Override
    public void onCompleted() {
      breakWith(Status.UNAVAILABLE.withDescription("the host closed the program stream").asRuntimeException());
    }

    /**
     * The stream is over: every program on it sees {@code why}, as its own call would. A host without
     * program streams (UNIMPLEMENTED) ran none of them: they see UNAVAILABLE, which {@link HostClient#run}
     * retries, on an Execute call from then on.
     */
    private void breakWith(Throwable cause) {
      Throwable why = cause;
      if (Status.fromThrowable(cause).getCode() == Status.Code.UNIMPLEMENTED) {
        unsupported = true;
        why = Status.UNAVAILABLE.withDescription("the host has no program streams (ExecuteStream is"
            + " UNIMPLEMENTED there); nothing ran, and this client sends its programs on Execute calls from now")
            .withCause(cause).asRuntimeException();
      }
      synchronized (sends) {
        if (broken) {
          return;
        }
        broken = true;
        breakage = why;
      }
      for (Lane lane : List.copyOf(lanes.values())) {
        if (lanes.remove(lane.number) != null) {
          lane.failWith(why);
        }
      }
    }
  }

  /**
   * One program on the stream: the observer its run sends on. Its run hears exactly one end, as from a
   * call: the host's status, the stream's breakage, the deadline, or (after the run cancelled) CANCELLED.
   */
  static final class Lane implements StreamObserver<ExecuteRequest> {
    private final Open stream;
    private final StreamObserver<ExecuteResponse> responses;
    private final Executor executor;
    /** Set at the program's first message, under the stream's send lock; 0 before. */
    private volatile long number;
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile @Nullable Runnable timerOrNull;

    private Lane(Open stream, StreamObserver<ExecuteResponse> responses, Executor executor) {
      this.stream = stream;
      this.responses = responses;
      this.executor = executor;
    }

    boolean ended() {
      return ended.get();
    }

    @Override
    public void onNext(ExecuteRequest request) {
      if (!stream.send(this, StreamRequest.newBuilder().setRequest(request)) && number == 0) {
        // Never numbered, so nothing else will end it: it fails as a call on a broken channel would.
        Throwable why = stream.breakage;
        failWith(why != null ? why : Status.UNAVAILABLE.withDescription("the program stream is closed")
            .asRuntimeException());
      }
    }

    /** The run cancels its program: the host stops it, and the run hears CANCELLED, as from a call. */
    @Override
    public void onError(Throwable t) {
      String reason = Status.fromThrowable(t).getDescription();
      end(Status.CANCELLED.withDescription(reason).asRuntimeException(), reason == null ? "cancelled" : reason);
    }

    /** The run closes its side; after the program's end there is nothing to close. */
    @Override
    public void onCompleted() {
      if (!ended.get() && number != 0) {
        stream.send(this, StreamRequest.newBuilder().setHalfClose(true));
      }
    }

    /** Hands a response to the run, in order; the last one carries the program's status. */
    void deliver(StreamResponse response) {
      if (response.hasStatus() && !ended.compareAndSet(false, true)) {
        return;
      }
      if (response.hasStatus()) {
        stopTimer();
      }
      handOver(() -> {
        if (response.hasResponse()) {
          responses.onNext(response.getResponse());
        }
        if (response.hasStatus()) {
          ProgramStatus status = response.getStatus();
          if (status.getCode() == Status.Code.OK.value()) {
            responses.onCompleted();
          } else {
            responses.onError(Status.fromCodeValue(status.getCode()).withDescription(status.getMessage())
                .asRuntimeException());
          }
        }
      });
    }

    /** The stream broke (or never opened): the run hears {@code why}; nothing is sent. */
    void failWith(Throwable why) {
      if (ended.compareAndSet(false, true)) {
        stopTimer();
        handOver(() -> responses.onError(why));
      }
    }

    /** The program's deadline passed: cancelled at the host, DEADLINE_EXCEEDED for the run. */
    void expire(Duration deadline) {
      String message = "the program did not end within its deadline of " + deadline;
      end(Status.DEADLINE_EXCEEDED.withDescription(message).withCause(new DeadlinePassed()).asRuntimeException(),
          message);
    }

    /** Ends the program from the renter's side: cancelled at the host if it reached it, {@code heard} by the run. */
    private void end(Throwable heard, String reason) {
      if (!ended.compareAndSet(false, true)) {
        return;
      }
      stopTimer();
      long sent = number;
      if (sent != 0 && stream.lanes.remove(sent) != null) {
        stream.send(this, StreamRequest.newBuilder().setCancel(reason));
      }
      handOver(() -> responses.onError(heard));
    }

    /** Runs {@code task} on the run's executor, or here once the client closed its pool (the run still ends). */
    private void handOver(Runnable task) {
      try {
        executor.execute(task);
      } catch (RejectedExecutionException e) {
        task.run();
      }
    }

    private void stopTimer() {
      Runnable timer = timerOrNull;
      if (timer != null) {
        timer.run();
      }
    }
  }
}
