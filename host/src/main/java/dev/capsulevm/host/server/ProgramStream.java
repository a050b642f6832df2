package dev.capsulevm.host.server;

import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.ProgramEnd;
import dev.capsulevm.proto.v1.ProgramStatus;
import dev.capsulevm.proto.v1.StreamRequest;
import dev.capsulevm.proto.v1.StreamResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * One ExecuteStream call: many programs on one long-lived stream, each an {@link ExecuteCall} that runs,
 * costs and ends exactly as on its own Execute call (docs/PROTOCOL.md, "Program streams"). Only the
 * transport's per-call work is saved.
 *
 * <p>Numbers. Every message names the renter's number for its program. A number higher (unsigned) than
 * every number seen on the stream starts a program, if the message is a request: a cancel or half-close
 * for a program never started is dropped, and its number counts as seen. A lower number whose program has
 * ended, or never started, is dropped silently (data arriving late, a cancel crossing the program's end),
 * so only the running programs are kept, and Admission's program slots bound them. Number 0 is a
 * protocol error of the stream: its programs are cancelled and it closes INVALID_ARGUMENT.
 *
 * <p>Routing. A request goes to the call's {@code onNext}, a cancel to its cancellation (as cancelling its
 * Execute call: abort CANCELLED, nothing more sent), {@code half_close: true} to its {@code onCompleted}. A
 * message carrying none of them (or {@code half_close: false}) is given to the call as an ExecuteRequest
 * carrying nothing, which fails that program PROTOCOL, as on Execute; the stream goes on. Each program has
 * its own {@link Lane}, used as {@link CallLanes} uses a call's: its header and data run at once in the
 * transport's thread when its lane is idle, everything else on the pool in the program's order, so one
 * program's CommitDecision (whose commit waits for the disk) never holds up the others' messages.
 *
 * <p>Flow control. Inbound, the stream asks for its next message as soon as it has routed one (gRPC's
 * automatic requests); a program's own {@code requestNext} does nothing, so a program's data is not paced
 * by the host: a program whose data outgrows its buffer ({@code maxBufferedBytes}) before the program
 * consumes it fails with DATA ({@link Upload}). The renter SDK sends only small programs on streams.
 * Outbound, a program sends when the stream is ready, and the stream's readiness wakes every program.
 *
 * <p>Ends. A program's last message carries its status (OK, or the status its call would have closed
 * with), or is the status alone (a refusal); then it leaves the map. A cancelled program sends nothing.
 * The renter's half-close of the stream half-closes every program on it (it can send them nothing more),
 * and the stream completes once the last has sent its status. The renter's cancellation of the stream, or
 * a broken transport, cancels every program and sends nothing more. Host shutdown ({@link #shutdown}):
 * the stream closes UNAVAILABLE at once when no program runs, else once the last has sent its status (the
 * programs themselves are calls, which the host's close ends); Admission refuses new programs meanwhile.
 *
 * <p>Threads. {@link #lock} guards the stream's state and serializes every send of every program (the
 * observer is not thread-safe); it is never held while calling into a program's call, whose own monitor
 * may be held while it sends through here. Metering is the calls': each charges its ExecuteRequests at
 * their own size; the StreamRequest around them is not charged.
 */
final class ProgramStream implements StreamObserver<StreamRequest> {
  private static final Logger log = LoggerFactory.getLogger(ProgramStream.class);

  private final HostContext ctx;
  private final ServerCallStreamObserver<StreamResponse> out;
  /** Where the programs' callbacks run that may not run in the transport's thread. */
  private final Executor pool;
  private final Context context;
  private final Object lock = new Object();
  /** The programs that have not sent their status (or been ended while cancelled), by number. */
  private final Map<Long, ProgramLane> programs = new HashMap<>();
  /** The highest number seen, unsigned; 0 before the first message. */
  private long highest;
  private boolean halfClosed;
  private boolean closing;
  /** The stream has its status or was cancelled: no program starts, nothing more is sent. */
  private boolean done;

  ProgramStream(HostContext ctx, StreamObserver<StreamResponse> responses, Executor pool) {
    this.ctx = ctx;
    this.out = (ServerCallStreamObserver<StreamResponse>) responses;
    this.pool = pool;
    this.context = Context.current();
    out.setOnCancelHandler(this::cancelled);
    out.setOnReadyHandler(this::wakeAll);
    ctx.streams.add(this);
    if (ctx.closing) {
      shutdown(); // the host's close may have told the open streams before this one was added
    }
  }

  // ---------------------------------------------------------------- inbound (the transport's thread)

  @Override
  public void onNext(StreamRequest message) {
    try {
      route(message);
    } catch (RuntimeException e) {
      log.error("unexpected failure routing a program stream's message", e);
      fail(Status.INTERNAL.withDescription("the host failed handling a stream message: " + e));
    }
  }

  private void route(StreamRequest message) {
    long number = message.getProgram();
    if (number == 0) {
      fail(Status.INVALID_ARGUMENT.withDescription("StreamRequest.program is 0: a stream's programs are"
          + " numbered from 1, each new one higher than every number before it"));
      return;
    }
    boolean cancel = message.getKindCase() == StreamRequest.KindCase.CANCEL;
    boolean halfClose = message.getKindCase() == StreamRequest.KindCase.HALF_CLOSE && message.getHalfClose();
    ProgramLane program;
    synchronized (lock) {
      if (done) {
        return;
      }
      program = programs.get(number);
      if (program == null) {
        if (Long.compareUnsigned(number, highest) <= 0) {
          return; // ended or never started: late data, or a cancel that crossed the program's end
        }
        highest = number;
        if (cancel || halfClose) {
          return; // nothing started to cancel or close
        }
        // Under the lock, so a program is in the map before anything can end it (the host's close).
        program = new ProgramLane(number);
        programs.put(number, program);
      }
      if (halfClose) {
        program.closedByRenter = true;
      }
    }
    if (cancel) {
      log.debug("program {} of a stream cancelled: {}", number, message.getCancel());
      program.cancel();
    } else if (halfClose) {
      program.halfClose();
    } else if (message.getKindCase() == StreamRequest.KindCase.REQUEST) {
      program.deliver(message.getRequest());
    } else {
      program.deliver(ExecuteRequest.getDefaultInstance());
    }
  }

  /** Handled as a cancellation; gRPC reports one to the cancel handler set above, not here. */
  @Override
  public void onError(Throwable t) {
    cancelled();
  }

  /** The renter closed its side: every program is half-closed, and the stream completes after the last. */
  @Override
  public void onCompleted() {
    List<ProgramLane> open;
    boolean closed;
    synchronized (lock) {
      if (done) {
        return;
      }
      halfClosed = true;
      open = programs.values().stream().filter(p -> !p.closedByRenter).toList();
      open.forEach(p -> p.closedByRenter = true);
      closed = closeIfIdleLocked();
    }
    if (closed) {
      ctx.streams.remove(this);
    }
    open.forEach(ProgramLane::halfClose);
  }

  /** The renter cancelled the stream or the transport broke: every program is cancelled, nothing more is sent. */
  private void cancelled() {
    List<ProgramLane> running;
    synchronized (lock) {
      if (done) {
        return;
      }
      done = true;
      running = List.copyOf(programs.values());
      running.forEach(Responses::markCancelled);
    }
    ctx.streams.remove(this);
    running.forEach(ProgramLane::cancel);
  }

  /** Closes the stream with {@code status} after cancelling its programs, each as if its call was cancelled. */
  private void fail(Status status) {
    List<ProgramLane> running;
    synchronized (lock) {
      if (done) {
        return;
      }
      running = List.copyOf(programs.values());
      running.forEach(Responses::markCancelled);
      closeLocked(status);
    }
    ctx.streams.remove(this);
    ctx.events.log(Level.INFO, "STREAM_" + status.getCode(),
        "ExecuteStream closed, " + status.getCode() + ": " + status.getDescription());
    running.forEach(ProgramLane::cancel);
  }

  private void wakeAll() {
    List<ProgramLane> running;
    synchronized (lock) {
      running = List.copyOf(programs.values());
    }
    running.forEach(p -> p.onReady.run());
  }

  /**
   * Host shutdown: closes the stream UNAVAILABLE now when no program runs, else once the last has sent its
   * status (a half-closed stream then completes as usual).
   */
  void shutdown() {
    boolean closed;
    synchronized (lock) {
      if (done) {
        return;
      }
      closing = true;
      closed = closeIfIdleLocked();
    }
    if (closed) {
      ctx.streams.remove(this);
    }
  }

  // ---------------------------------------------------------------- outbound (any program's thread)

  private boolean send(ProgramLane program, StreamResponse response) {
    synchronized (lock) {
      if (done || program.wasCancelled()) {
        return false;
      }
      try {
        out.onNext(response);
        return true;
      } catch (RuntimeException e) {
        log.debug("could not send a program's response", e);
        return false;
      }
    }
  }

  /** A program ended: its last message unless it was cancelled, and the stream's end if it was the last. */
  private void ended(ProgramLane program, StreamResponse last) {
    boolean closed;
    synchronized (lock) {
      programs.remove(program.number, program);
      if (done) {
        return;
      }
      if (!program.wasCancelled()) {
        try {
          out.onNext(last);
        } catch (RuntimeException e) {
          log.debug("could not send the end of a program", e);
        }
      }
      closed = closeIfIdleLocked();
    }
    if (closed) {
      ctx.streams.remove(this);
    }
  }

  /** Ends the stream when nothing runs and nothing more will: OK after the renter's half-close, else UNAVAILABLE. */
  private boolean closeIfIdleLocked() {
    if (!programs.isEmpty() || !(halfClosed || closing)) {
      return false;
    }
    closeLocked(halfClosed ? null : Status.UNAVAILABLE.withDescription("the host is shutting down"));
    return true;
  }

  private void closeLocked(@Nullable Status errorOrNull) {
    done = true;
    try {
      if (errorOrNull == null) {
        out.onCompleted();
      } else {
        out.onError(errorOrNull.asRuntimeException());
      }
    } catch (RuntimeException e) {
      log.debug("could not close a program stream", e);
    }
  }

  private static ProgramStatus status(@Nullable Status errorOrNull) {
    if (errorOrNull == null) {
      return ProgramStatus.getDefaultInstance(); // OK: code 0, no message
    }
    String description = errorOrNull.getDescription();
    return ProgramStatus.newBuilder()
        .setCode(errorOrNull.getCode().value())
        .setMessage(description == null ? "" : description)
        .build();
  }

  /** One program of the stream: its call, the lane of its callbacks, and its responses on the stream. */
  private final class ProgramLane extends Responses {
    private final long number;
    private final Lane callbacks;
    private final ExecuteCall call;
    // the call's handlers, set by its constructor before the program is in the map
    private Runnable onCancel = () -> { };
    private Runnable onReady = () -> { };
    /** Whether the renter closed its side of the program (under the stream's lock). */
    private boolean closedByRenter;

    ProgramLane(long number) {
      this.number = number;
      this.callbacks = new Lane(pool, context, this::failed);
      this.call = new ExecuteCall(ctx, this);
    }

    /** As CallLanes runs an Execute call's: a header or data at once when the lane is idle, else in turn. */
    void deliver(ExecuteRequest request) {
      callbacks.run(() -> call.onNext(request), request.hasHeader() || request.hasData());
    }

    void cancel() {
      callbacks.run(() -> onCancel.run(), false);
    }

    void halfClose() {
      callbacks.run(call::onCompleted, false);
    }

    /** A callback threw: the program fails INTERNAL; an Error closes the stream. */
    private void failed(Throwable e) {
      if (e instanceof Error) {
        fail(Status.INTERNAL.withDescription("the host failed handling a program: " + e));
      } else {
        call.abort(EndReason.INTERNAL, "the host failed handling a request: " + e);
      }
    }

    @Override
    void attach(Runnable onCancel, Runnable onReady) {
      this.onCancel = onCancel;
      this.onReady = onReady;
    }

    @Override
    void requestNext() {
      // The stream asks for its messages itself: its programs are not paced one by one.
    }

    @Override
    boolean isReady() {
      return out.isReady();
    }

    @Override
    boolean send(ExecuteResponse response) {
      return ProgramStream.this.send(this,
          StreamResponse.newBuilder().setProgram(number).setResponse(response).build());
    }

    @Override
    void end(ProgramEnd end, @Nullable Status errorOrNull) {
      ended(this, StreamResponse.newBuilder()
          .setProgram(number)
          .setResponse(ExecuteResponse.newBuilder().setEnd(end))
          .setStatus(status(errorOrNull))
          .build());
    }

    @Override
    void refuse(Status status) {
      ended(this, StreamResponse.newBuilder().setProgram(number).setStatus(status(status)).build());
    }
  }
}
