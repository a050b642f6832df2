package dev.capsulevm.renter;

import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * A call that never reaches the host: it closes with {@code status}, no message, as a host that refuses
 * the call (or lacks the method) would; the close is delivered through {@code where}.
 */
final class RefusedCall<Q, R> extends ClientCall<Q, R> {
  private final Status status;
  private final Executor where;

  RefusedCall(Status status, Executor where) {
    this.status = status;
    this.where = where;
  }

  @Override
  public void start(Listener<R> listener, Metadata headers) {
    where.execute(() -> listener.onClose(status, new Metadata()));
  }

  @Override
  public void request(int numMessages) {}

  @Override
  public void cancel(@Nullable String message, @Nullable Throwable cause) {}

  @Override
  public void halfClose() {}

  @Override
  public void sendMessage(Q message) {}
}
