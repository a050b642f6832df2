package dev.capsulevm.renter;

import dev.capsulevm.proto.ProgramMessages;
import dev.capsulevm.proto.v1.BalanceResponse;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.OpenSessionResponse;
import dev.capsulevm.proto.v1.PriceTableResponse;
import dev.capsulevm.proto.v1.StreamRequest;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * A man in the middle between renter and host: a client interceptor that hands every reply of the Host
 * service to a mutation and passes on what the mutation returns: each response message of an
 * {@code Execute} call with its position on the stream (of a program on an {@code ExecuteStream}, with its
 * position among that program's messages), each {@code GetBalance}, each
 * {@code GetPriceTable} and each {@code OpenSession} reply. Counts the messages it actually changed.
 */
final class Tamper implements ClientInterceptor {
  interface Mutation {
    /** The message to deliver instead of {@code response}, the {@code position}-th on its stream. */
    ExecuteResponse apply(int position, ExecuteResponse response);
  }

  private volatile Mutation mutation;
  private volatile UnaryOperator<BalanceResponse> balance;
  private volatile UnaryOperator<PriceTableResponse> priceTable;
  private volatile UnaryOperator<OpenSessionResponse> openSession;
  final AtomicInteger changed = new AtomicInteger();
  /** Programs sent through this interceptor: Execute calls, and programs started on an ExecuteStream. */
  final AtomicInteger executeCalls = new AtomicInteger();

  void set(Mutation m) {
    changed.set(0);
    mutation = m;
  }

  void setBalance(UnaryOperator<BalanceResponse> m) {
    changed.set(0);
    balance = m;
  }

  void setPriceTable(UnaryOperator<PriceTableResponse> m) {
    changed.set(0);
    priceTable = m;
  }

  void setOpenSession(UnaryOperator<OpenSessionResponse> m) {
    changed.set(0);
    openSession = m;
  }

  void clear() {
    mutation = null;
    balance = null;
    priceTable = null;
    openSession = null;
  }

  /** {@code call}, counting in {@link #executeCalls} each program it starts (a request carrying a header). */
  private <ReqT, RespT> ClientCall<ReqT, RespT> countingPrograms(ClientCall<ReqT, RespT> call) {
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void sendMessage(ReqT message) {
        if (message instanceof StreamRequest request && request.getRequest().hasHeader()) {
          executeCalls.incrementAndGet();
        }
        super.sendMessage(message);
      }
    };
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
      CallOptions options, Channel next) {
    ClientCall<ReqT, RespT> call = next.newCall(method, options);
    String name = method.getFullMethodName();
    UnaryOperator<Object> change;
    if (name.equals(HostGrpc.getExecuteMethod().getFullMethodName())) {
      executeCalls.incrementAndGet();
      Mutation m = mutation;
      if (m == null) {
        return call;
      }
      AtomicInteger position = new AtomicInteger();
      change = message -> m.apply(position.getAndIncrement(), (ExecuteResponse) message);
    } else if (name.equals(HostGrpc.getExecuteStreamMethod().getFullMethodName())) {
      call = countingPrograms(call);
      // Each program on the stream is changed as its own Execute call would be, positions counted per program.
      Map<Long, AtomicInteger> positions = new ConcurrentHashMap<>();
      change = message -> {
        Mutation m = mutation;
        return m == null ? message : ProgramMessages.mapResponse(message, (program, response) ->
            m.apply(positions.computeIfAbsent(program, p -> new AtomicInteger()).getAndIncrement(), response));
      };
    } else if (name.equals(HostGrpc.getGetBalanceMethod().getFullMethodName()) && balance != null) {
      UnaryOperator<BalanceResponse> m = balance;
      change = message -> m.apply((BalanceResponse) message);
    } else if (name.equals(HostGrpc.getGetPriceTableMethod().getFullMethodName()) && priceTable != null) {
      UnaryOperator<PriceTableResponse> m = priceTable;
      change = message -> m.apply((PriceTableResponse) message);
    } else if (name.equals(HostGrpc.getOpenSessionMethod().getFullMethodName()) && openSession != null) {
      UnaryOperator<OpenSessionResponse> m = openSession;
      change = message -> m.apply((OpenSessionResponse) message);
    } else {
      return call;
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void start(Listener<RespT> listener, Metadata headers) {
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
          @Override
          @SuppressWarnings("unchecked")
          public void onMessage(RespT message) {
            Object out = change.apply(message);
            if (!out.equals(message)) {
              changed.incrementAndGet();
            }
            super.onMessage((RespT) out);
          }
        }, headers);
      }
    };
  }
}
