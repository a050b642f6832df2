package dev.capsulevm.cli;

import com.google.protobuf.ByteString;
import dev.capsulevm.proto.ProgramMessages;
import dev.capsulevm.proto.v1.ExecuteRequest;
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
    if (!ProgramMessages.carriesPrograms(method)) {
      return call;
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void sendMessage(ReqT message) {
        super.sendMessage(ProgramMessages.mapRequest(message, ChangeStatedHeads::change));
      }
    };
  }

  private static ExecuteRequest change(ExecuteRequest request) {
    if (!request.hasHeader() || request.getHeader().getExpectedHeadsCount() == 0) {
      return request;
    }
    byte[] head = request.getHeader().getExpectedHeads(0).toByteArray();
    head[head.length - 1] ^= 1;
    return request.toBuilder().setHeader(request.getHeader().toBuilder()
        .setExpectedHeads(0, ByteString.copyFrom(head))).build();
  }
}
