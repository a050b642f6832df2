package dev.capsulevm.host.replication;

import dev.capsulevm.proto.tls.ChannelSecurity;
import dev.capsulevm.proto.v1.SyncFrame;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.CallStreamObserver;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * One end of a Sync stream as blocking calls, so that a session reads like the protocol: the session's
 * thread takes the peer's frames one at a time (inbound flow control asks gRPC for the next only when one
 * is taken, so a fast peer cannot queue unbounded frames here) and sends only while the transport is
 * ready (so a slow peer cannot make this side buffer unbounded frames). gRPC's threads only hand over.
 */
final class FrameChannel implements ClientResponseObserver<SyncFrame, SyncFrame> {
  private static final Object END = new Object();

  private final LinkedBlockingQueue<Object> inbound = new LinkedBlockingQueue<>();
  private final Object ready = new Object();
  /** Bound before the session sends or takes a frame: by {@link #bind}, or by gRPC through {@link #beforeStart}. */
  private volatile @Nullable CallStreamObserver<SyncFrame> out;
  private volatile boolean cancelled;
  private volatile @Nullable Throwable peerError;
  private long bytesReceived;
  private long bytesSent;

  /** Binds the responder's outbound side; called from the service method before it returns. */
  void bind(ServerCallStreamObserver<SyncFrame> outbound) {
    out = outbound;
    outbound.disableAutoRequest();
    outbound.setOnReadyHandler(this::signalReady);
    outbound.setOnCancelHandler(this::cancelled);
    outbound.request(1);
  }

  /** Binds the initiator's outbound side: gRPC calls this when this channel is a client call's observer. */
  @Override
  public void beforeStart(ClientCallStreamObserver<SyncFrame> outbound) {
    out = outbound;
    outbound.disableAutoRequestWithInitial(1);
    outbound.setOnReadyHandler(this::signalReady);
  }

  private void cancelled() {
    cancelled = true;
    inbound.add(Status.CANCELLED.withDescription("the peer cancelled the session").asRuntimeException());
    signalReady();
  }

  @Override
  public void onNext(SyncFrame frame) {
    inbound.add(frame);
  }

  @Override
  public void onError(Throwable t) {
    peerError = t;
    inbound.add(t);
    cancelled = true;
    signalReady();
  }

  @Override
  public void onCompleted() {
    inbound.add(END);
  }

  /** The peer's next frame, or null when it ended the stream. */
  @Nullable SyncFrame take(Duration timeout) throws SyncFailure {
    Object next;
    try {
      next = inbound.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw SyncFailure.of(Status.Code.CANCELLED, "interrupted while waiting for the peer");
    }
    if (next == null) {
      throw SyncFailure.of(Status.Code.DEADLINE_EXCEEDED, "the peer sent nothing for " + timeout.toSeconds() + " s");
    }
    if (next == END) {
      return null;
    }
    if (next instanceof Throwable t) {
      throw ended(t);
    }
    out().request(1);
    SyncFrame frame = (SyncFrame) next;
    bytesReceived += frame.getSerializedSize();
    return frame;
  }

  /** Sends a frame once the transport is ready for it. */
  void send(SyncFrame frame, Duration timeout) throws SyncFailure {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (ready) {
      while (!out().isReady() && !cancelled) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw SyncFailure.of(Status.Code.DEADLINE_EXCEEDED, "the peer read nothing for " + timeout.toSeconds() + " s");
        }
        try {
          ready.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw SyncFailure.of(Status.Code.CANCELLED, "interrupted while sending");
        }
      }
    }
    if (cancelled) {
      Throwable t = peerError;
      throw t != null ? ended(t) : SyncFailure.of(Status.Code.CANCELLED, "the session was cancelled");
    }
    try {
      out().onNext(frame);
    } catch (StatusRuntimeException | IllegalStateException e) {
      throw new SyncFailure(Status.Code.CANCELLED, false, "could not send: " + e.getMessage(), e);
    }
    bytesSent += frame.getSerializedSize();
  }

  void complete() {
    try {
      CallStreamObserver<SyncFrame> out = out();
      out.onCompleted();
      if (out instanceof ClientCallStreamObserver<SyncFrame> client) {
        // drain what the responder sent after the outcome (a run sent ahead), so its OK can arrive
        client.request(Integer.MAX_VALUE);
      }
    } catch (IllegalStateException ignored) {
      // already closed by a cancellation
    }
  }

  void fail(Status status) {
    try {
      out().onError(status.asRuntimeException());
    } catch (IllegalStateException ignored) {
      // already closed
    }
  }

  long bytesReceived() {
    return bytesReceived;
  }

  long bytesSent() {
    return bytesSent;
  }

  private static SyncFailure ended(Throwable t) {
    Status status = Status.fromThrowable(t);
    String tls = ChannelSecurity.handshakeFailure(t);
    if (tls != null) {
      return new SyncFailure(status.getCode(), false, "the session ended: " + status.getCode() + ", " + tls, t);
    }
    return new SyncFailure(status.getCode(), false,
        "the session ended: " + status.getCode() + (status.getDescription() == null ? "" : ", " + status.getDescription()), t);
  }

  private CallStreamObserver<SyncFrame> out() {
    return Objects.requireNonNull(out, "the channel is bound before the session uses it");
  }

  private void signalReady() {
    synchronized (ready) {
      ready.notifyAll();
    }
  }
}
