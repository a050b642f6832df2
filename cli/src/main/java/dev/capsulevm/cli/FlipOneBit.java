package dev.capsulevm.cli;

import com.google.protobuf.ByteString;
import dev.capsulevm.proto.ProgramMessages;
import dev.capsulevm.proto.v1.ExecuteResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The demo's man in the middle: flips one bit of the first instruction output of every program it sees
 * (an {@code Execute} call, or a program on an {@code ExecuteStream}), at byte {@code position} of the output (or the last byte if the output is shorter).
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
    if (!ProgramMessages.carriesPrograms(method)) {
      return call;
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void start(Listener<RespT> listener, Metadata headers) {
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
          /** The programs whose first output was flipped. */
          private final Set<Long> flipped = ConcurrentHashMap.newKeySet();

          @Override
          public void onMessage(RespT message) {
            super.onMessage(ProgramMessages.mapResponse(message, this::flip));
          }

          private ExecuteResponse flip(long program, ExecuteResponse response) {
            if (!response.hasResult() || !flipped.add(program)) {
              return response;
            }
            byte[] output = response.getResult().getOutput().toByteArray();
            output[Math.min(position, output.length - 1)] ^= 1;
            return response.toBuilder()
                .setResult(response.getResult().toBuilder().setOutput(ByteString.copyFrom(output))).build();
          }
        }, headers);
      }
    };
  }
}
