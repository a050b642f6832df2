package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.proto.v1.CommitDecision;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.GetPriceTableRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.PriceTableResponse;
import dev.capsulevm.proto.v1.ProgramHeader;
import dev.capsulevm.proto.v1.StreamRequest;
import dev.capsulevm.proto.v1.StreamResponse;
import io.grpc.Context;
import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class CallLanesTest {
  private static final ExecuteRequest HEADER = ExecuteRequest.newBuilder()
      .setHeader(ProgramHeader.getDefaultInstance()).build();
  private static final ExecuteRequest DATA = ExecuteRequest.newBuilder().setData(ByteString.copyFromUtf8("d")).build();
  private static final ExecuteRequest DECISION = ExecuteRequest.newBuilder()
      .setDecision(CommitDecision.newBuilder().setConfirm(true)).build();

  /** A pool whose tasks run only when the test says so. */
  private static final class ManualPool implements Executor {
    final ArrayDeque<Runnable> tasks = new ArrayDeque<>();

    @Override
    public void execute(Runnable task) {
      tasks.add(task);
    }

    void runAll() {
      for (Runnable next = tasks.poll(); next != null; next = tasks.poll()) {
        next.run();
      }
    }
  }

  private static final class FakeCall<Q, R> extends ServerCall<Q, R> {
    private final MethodDescriptor<Q, R> method;
    @Nullable Status closed;

    FakeCall(MethodDescriptor<Q, R> method) {
      this.method = method;
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void sendHeaders(Metadata headers) {}

    @Override
    public void sendMessage(R message) {}

    @Override
    public void close(Status status, Metadata trailers) {
      closed = status;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public Attributes getAttributes() {
      return Attributes.EMPTY;
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }
  }

  /** Records what reached the service's listener, and whether it ran in the test's own thread. */
  private static final class Recording<Q> extends ServerCall.Listener<Q> {
    final List<String> seen = new ArrayList<>();
    private final Thread test = Thread.currentThread();

    private void add(String what) {
      seen.add(what + (Thread.currentThread() == test && !inPool ? " at once" : " on the pool"));
    }

    boolean inPool;

    @Override
    public void onMessage(Q message) {
      add(message instanceof StreamRequest request ? "stream " + request.getKindCase().name()
          : ((ExecuteRequest) message).getKindCase().name());
    }

    @Override
    public void onHalfClose() {
      add("half-close");
    }

    @Override
    public void onCancel() {
      add("cancel");
    }

    @Override
    public void onReady() {
      add("ready");
    }
  }

  @Test
  void anExecuteCallsHeaderAndDataRunAtOnceEverythingElseOnThePoolInOrder() {
    ManualPool pool = new ManualPool();
    Recording<ExecuteRequest> service = new Recording<>();
    FakeCall<ExecuteRequest, ExecuteResponse> call = new FakeCall<>(HostGrpc.getExecuteMethod());
    ServerCall.Listener<ExecuteRequest> listener = new CallLanes(pool)
        .interceptCall(call, new Metadata(), (c, h) -> service);
    listener.onReady();
    listener.onMessage(HEADER);
    listener.onMessage(DATA);
    assertEquals(List.of("ready at once", "HEADER at once", "DATA at once"), service.seen);
    listener.onMessage(DECISION);
    listener.onMessage(DATA); // behind the decision, so it waits its turn although data may run at once
    listener.onHalfClose();
    assertEquals(3, service.seen.size(), "nothing ran past the decision yet");
    service.inPool = true;
    pool.runAll();
    assertEquals(List.of("ready at once", "HEADER at once", "DATA at once", "DECISION on the pool",
        "DATA on the pool", "half-close on the pool"), service.seen);
    service.inPool = false;
    listener.onMessage(DATA);
    listener.onCancel();
    assertEquals("DATA at once", service.seen.get(6), "the lane is idle again, so data runs at once");
    assertEquals(7, service.seen.size(), "the cancellation waits for the pool");
    service.inPool = true;
    pool.runAll();
    assertEquals("cancel on the pool", service.seen.get(7));
  }

  @Test
  void anExecuteStreamsMessagesRunAtOnceItsHalfCloseAndCancellationOnThePool() {
    ManualPool pool = new ManualPool();
    Recording<StreamRequest> service = new Recording<>();
    FakeCall<StreamRequest, StreamResponse> call = new FakeCall<>(HostGrpc.getExecuteStreamMethod());
    ServerCall.Listener<StreamRequest> listener = new CallLanes(pool)
        .interceptCall(call, new Metadata(), (c, h) -> service);
    listener.onReady();
    listener.onMessage(StreamRequest.newBuilder().setProgram(1).setRequest(HEADER).build());
    // A decision or a cancel too: the stream routes each to its program's lane without waiting.
    listener.onMessage(StreamRequest.newBuilder().setProgram(1).setRequest(DECISION).build());
    listener.onMessage(StreamRequest.newBuilder().setProgram(1).setCancel("stop").build());
    listener.onHalfClose();
    assertEquals(List.of("ready at once", "stream REQUEST at once", "stream REQUEST at once", "stream CANCEL at once"),
        service.seen);
    service.inPool = true;
    pool.runAll();
    assertEquals("half-close on the pool", service.seen.get(4));
  }

  @Test
  void aLaneHandsAHandlerThatThrowsToItsFailureHandlerAndGoesOn() {
    ManualPool pool = new ManualPool();
    List<String> seen = new ArrayList<>();
    Lane lane = new Lane(pool, Context.ROOT, e -> seen.add("failed: " + e.getMessage()));
    lane.run(() -> {
      throw new IllegalStateException("broken");
    }, true);
    lane.run(() -> seen.add("next at once"), true);
    lane.run(() -> {
      throw new AssertionError("an Error too");
    }, false);
    lane.run(() -> seen.add("after it, in order"), true);
    pool.runAll();
    assertEquals(List.of("failed: broken", "next at once", "failed: an Error too", "after it, in order"), seen);
  }

  @Test
  void otherMethodsStartAndRunOnThePool() {
    ManualPool pool = new ManualPool();
    List<String> started = new ArrayList<>();
    FakeCall<GetPriceTableRequest, PriceTableResponse> call = new FakeCall<>(HostGrpc.getGetPriceTableMethod());
    ServerCall.Listener<GetPriceTableRequest> listener = new CallLanes(pool).interceptCall(call, new Metadata(),
        (c, h) -> {
          started.add("started");
          return new ServerCall.Listener<>() {
            @Override
            public void onHalfClose() {
              started.add("half-close");
            }
          };
        });
    listener.onMessage(GetPriceTableRequest.getDefaultInstance());
    listener.onHalfClose();
    assertTrue(started.isEmpty(), "the handler did not run in the transport's thread");
    pool.runAll();
    assertEquals(List.of("started", "half-close"), started);
  }

  @Test
  void aHandlerThatThrowsOnThePoolClosesTheCall() {
    ManualPool pool = new ManualPool();
    FakeCall<ExecuteRequest, ExecuteResponse> call = new FakeCall<>(HostGrpc.getExecuteMethod());
    ServerCall.Listener<ExecuteRequest> listener = new CallLanes(pool).interceptCall(call, new Metadata(),
        (c, h) -> new ServerCall.Listener<>() {
          @Override
          public void onHalfClose() {
            throw new IllegalStateException("broken handler");
          }
        });
    listener.onHalfClose();
    pool.runAll();
    Status closed = call.closed;
    assertTrue(closed != null && closed.getCode() == Status.Code.INTERNAL, "closed with INTERNAL: " + closed);
  }
}
