package dev.capsulevm.cli;

import com.google.protobuf.ByteString;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;

/**
 * The demo's man in the middle on the way to the host: flips the last bit of the first head a write's
 * header states (docs/PROTOCOL.md, "Stated heads"), so the host sees a statement the program cannot meet.
 */
final class ChangeStatedHeads implements ClientInterceptor {
  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
      CallOptions options, Channel next) {
    ClientCall<ReqT, RespT> call = next.newCall(method, options);
    if (!method.getFullMethodName().equals(HostGrpc.getExecuteMethod().getFullMethodName())) {
      return call;
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      @SuppressWarnings("unchecked")
      public void sendMessage(ReqT message) {
        ExecuteRequest request = (ExecuteRequest) message;
        if (request.hasHeader() && request.getHeader().getExpectedHeadsCount() > 0) {
          byte[] head = request.getHeader().getExpectedHeads(0).toByteArray();
          head[head.length - 1] ^= 1;
          request = request.toBuilder().setHeader(request.getHeader().toBuilder()
              .setExpectedHeads(0, ByteString.copyFrom(head))).build();
        }
        super.sendMessage((ReqT) request);
      }
    };
  }
}
