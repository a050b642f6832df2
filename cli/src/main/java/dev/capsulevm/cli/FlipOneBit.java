package dev.capsulevm.cli;

import com.google.protobuf.ByteString;
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

/**
 * The demo's man in the middle: flips one bit of the first instruction output of every {@code Execute}
 * call it sees, at byte {@code position} of the output (or the last byte if the output is shorter).
 */
final class FlipOneBit implements ClientInterceptor {
  private final int position;

  FlipOneBit(int position) {
    this.position = position;
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
      CallOptions options, Channel next) {
    ClientCall<ReqT, RespT> call = next.newCall(method, options);
    if (!method.getFullMethodName().equals(HostGrpc.getExecuteMethod().getFullMethodName())) {
      return call;
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void start(Listener<RespT> listener, Metadata headers) {
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
          private boolean done;

          @Override
          @SuppressWarnings("unchecked")
          public void onMessage(RespT message) {
            ExecuteResponse response = (ExecuteResponse) message;
            if (!done && response.hasResult()) {
              done = true;
              byte[] output = response.getResult().getOutput().toByteArray();
              output[Math.min(position, output.length - 1)] ^= 1;
              response = response.toBuilder()
                  .setResult(response.getResult().toBuilder().setOutput(ByteString.copyFrom(output))).build();
            }
            super.onMessage((RespT) response);
          }
        }, headers);
      }
    };
  }
}
