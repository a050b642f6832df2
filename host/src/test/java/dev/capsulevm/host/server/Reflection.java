package dev.capsulevm.host.server;

import io.grpc.ManagedChannel;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** The services a port lists through server reflection, asked in v1 and in v1alpha, sorted. */
final class Reflection {
  private Reflection() {}

  static List<String> servicesV1(ManagedChannel channel) throws Exception {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
        .serverReflectionInfo(new Collector<>(answer));
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    requests.onCompleted();
    return answer.get(10, TimeUnit.SECONDS).getListServicesResponse().getServiceList().stream()
        .map(ServiceResponse::getName).sorted().toList();
  }

  @SuppressWarnings("deprecation") // v1alpha is what older tools still ask
  static List<String> servicesV1Alpha(ManagedChannel channel) throws Exception {
    CompletableFuture<io.grpc.reflection.v1alpha.ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<io.grpc.reflection.v1alpha.ServerReflectionRequest> requests =
        io.grpc.reflection.v1alpha.ServerReflectionGrpc.newStub(channel).serverReflectionInfo(new Collector<>(answer));
    requests.onNext(io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder().setListServices("").build());
    requests.onCompleted();
    return answer.get(10, TimeUnit.SECONDS).getListServicesResponse().getServiceList().stream()
        .map(io.grpc.reflection.v1alpha.ServiceResponse::getName).sorted().toList();
  }

  /** Completes with the first response. */
  private static final class Collector<T> implements StreamObserver<T> {
    private final CompletableFuture<T> answer;

    Collector(CompletableFuture<T> answer) {
      this.answer = answer;
    }

    @Override
    public void onNext(T value) {
      answer.complete(value);
    }

    @Override
    public void onError(Throwable t) {
      answer.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      answer.completeExceptionally(new IllegalStateException("no answer"));
    }
  }
}
