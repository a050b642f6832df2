package dev.capsulevm.host.server;

import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.ProgramEnd;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's side of one Execute stream. Every message and status goes out through here, one at a time
 * under one lock, and nothing goes out once the renter cancelled. Callers may hold the call's monitor
 * when they send; nothing here takes it.
 */
final class Responses {
  private static final Logger log = LoggerFactory.getLogger(Responses.class);

  private final ServerCallStreamObserver<ExecuteResponse> out;
  private final Object lock = new Object();
  private volatile boolean cancelled;

  /** Takes over the stream: manual inbound flow control, and the call's cancellation and readiness handlers. */
  Responses(StreamObserver<ExecuteResponse> responses, Runnable onCancel, Runnable onReady) {
    this.out = (ServerCallStreamObserver<ExecuteResponse>) responses;
    out.disableAutoRequest();
    out.setOnCancelHandler(onCancel);
    out.setOnReadyHandler(onReady);
  }

  /** Asks gRPC for the next request message. */
  void requestNext() {
    out.request(1);
  }

  /** Whether the transport takes another message without buffering it. */
  boolean isReady() {
    return out.isReady();
  }

  /** The renter cancelled the call (or the transport broke): nothing more is sent. */
  void markCancelled() {
    cancelled = true;
  }

  boolean wasCancelled() {
    return cancelled;
  }

  /** Sends one message; false when the call was cancelled, before or while sending. */
  boolean send(ExecuteResponse response) {
    synchronized (lock) {
      if (cancelled) {
        return false;
      }
      try {
        out.onNext(response);
        return true;
      } catch (RuntimeException e) {
        log.debug("could not send a response", e);
        return false;
      }
    }
  }

  /** Ends the stream with {@code end}, then OK, or the status {@code errorOrNull}. */
  void end(ProgramEnd end, @Nullable Status errorOrNull) {
    synchronized (lock) {
      if (cancelled) {
        return;
      }
      try {
        out.onNext(ExecuteResponse.newBuilder().setEnd(end).build());
        if (errorOrNull == null) {
          out.onCompleted();
        } else {
          out.onError(errorOrNull.asRuntimeException());
        }
      } catch (RuntimeException e) {
        log.debug("could not send the end of a program", e);
      }
    }
  }

  /** Ends the stream with a status alone: the call held no budget. */
  void refuse(Status status) {
    synchronized (lock) {
      if (cancelled) {
        return;
      }
      try {
        out.onError(status.asRuntimeException());
      } catch (RuntimeException e) {
        log.debug("could not send the status", e);
      }
    }
  }
}
