package dev.capsulevm.host.server;

import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.ProgramEnd;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The responses of a program on its own Execute call: the call's stream, ended with the program's status. */
final class CallResponses extends Responses {
  private static final Logger log = LoggerFactory.getLogger(CallResponses.class);

  private final ServerCallStreamObserver<ExecuteResponse> out;
  private final Object lock = new Object();

  /** Takes over the stream with manual inbound flow control. */
  CallResponses(StreamObserver<ExecuteResponse> responses) {
    this.out = (ServerCallStreamObserver<ExecuteResponse>) responses;
    out.disableAutoRequest();
  }

  @Override
  void attach(Runnable onCancel, Runnable onReady) {
    out.setOnCancelHandler(onCancel);
    out.setOnReadyHandler(onReady);
  }

  @Override
  void requestNext() {
    out.request(1);
  }

  @Override
  boolean isReady() {
    return out.isReady();
  }

  @Override
  boolean send(ExecuteResponse response) {
    synchronized (lock) {
      if (wasCancelled()) {
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

  @Override
  void end(ProgramEnd end, @Nullable Status errorOrNull) {
    synchronized (lock) {
      if (wasCancelled()) {
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

  @Override
  void refuse(Status status) {
    synchronized (lock) {
      if (wasCancelled()) {
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
