package dev.capsulevm.proto;

import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.StreamRequest;
import dev.capsulevm.proto.v1.StreamResponse;
import io.grpc.MethodDescriptor;
import java.util.function.UnaryOperator;

/**
 * A program's messages whichever RPC carries them: its own {@code Execute} call, or its number on an
 * {@code ExecuteStream} (docs/PROTOCOL.md, "Program streams"). For client interceptors that look at or
 * change programs (the demo's man in the middle, tests) without a case for each RPC.
 */
public final class ProgramMessages {
  /** What a change to a program's response is given: the program (0 on its own Execute call) and the response. */
  public interface ResponseChange {
    ExecuteResponse apply(long program, ExecuteResponse response);
  }

  private ProgramMessages() {}

  /** Whether {@code method} carries programs' messages: {@code Execute} or {@code ExecuteStream}. */
  public static boolean carriesPrograms(MethodDescriptor<?, ?> method) {
    String name = method.getFullMethodName();
    return name.equals(HostGrpc.getExecuteMethod().getFullMethodName())
        || name.equals(HostGrpc.getExecuteStreamMethod().getFullMethodName());
  }

  /**
   * {@code message} of either RPC with the {@code ExecuteRequest} it carries replaced by what {@code change}
   * returns for it; a message carrying none (a stream's cancel or half-close) as it is.
   */
  @SuppressWarnings("unchecked") // the result is of the message's own class
  public static <T> T mapRequest(T message, UnaryOperator<ExecuteRequest> change) {
    if (message instanceof ExecuteRequest request) {
      return (T) change.apply(request);
    }
    if (message instanceof StreamRequest tagged && tagged.hasRequest()) {
      ExecuteRequest changed = change.apply(tagged.getRequest());
      return changed.equals(tagged.getRequest()) ? message : (T) tagged.toBuilder().setRequest(changed).build();
    }
    return message;
  }

  /**
   * {@code message} of either RPC with the {@code ExecuteResponse} it carries replaced by what {@code change}
   * returns for it; a stream's bare status as it is.
   */
  @SuppressWarnings("unchecked") // the result is of the message's own class
  public static <T> T mapResponse(T message, ResponseChange change) {
    if (message instanceof ExecuteResponse response) {
      return (T) change.apply(0, response);
    }
    if (message instanceof StreamResponse tagged && tagged.hasResponse()) {
      ExecuteResponse changed = change.apply(tagged.getProgram(), tagged.getResponse());
      return changed.equals(tagged.getResponse()) ? message : (T) tagged.toBuilder().setResponse(changed).build();
    }
    return message;
  }
}
