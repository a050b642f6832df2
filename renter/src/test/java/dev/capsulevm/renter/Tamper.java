package dev.capsulevm.renter;

import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.HostGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A man in the middle between renter and host: a client interceptor that hands every response message
 * of an {@code Execute} call, with its position on the stream, to a mutation, and passes on what the
 * mutation returns. Counts the messages it actually changed.
 */
final class Tamper implements ClientInterceptor {
  interface Mutation {
    /** The message to deliver instead of {@code response}, the {@code position}-th on its stream. */
    ExecuteResponse apply(int position, ExecuteResponse response);
  }

  private volatile Mutation mutation;
  final AtomicInteger changed = new AtomicInteger();

  void set(Mutation m) {
    changed.set(0);
    mutation = m;
  }

  void clear() {
    mutation = null;
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
      CallOptions options, Channel next) {
    ClientCall<ReqT, RespT> call = next.newCall(method, options);
    if (!method.getFullMethodName().equals(HostGrpc.getExecuteMethod().getFullMethodName())) {
      return call;
    }
    Mutation m = mutation;
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void start(Listener<RespT> listener, Metadata headers) {
        AtomicInteger position = new AtomicInteger();
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
          @Override
          @SuppressWarnings("unchecked")
          public void onMessage(RespT message) {
            ExecuteResponse original = (ExecuteResponse) message;
            ExecuteResponse out = m == null ? original : m.apply(position.getAndIncrement(), original);
            if (!out.equals(original)) {
              changed.incrementAndGet();
            }
            super.onMessage((RespT) out);
          }
        }, headers);
      }
    };
  }
}
