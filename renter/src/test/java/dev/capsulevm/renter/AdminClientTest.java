package dev.capsulevm.renter;

import static dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_CONVERGED;
import static dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_DIVERGED;
import static dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_EQUAL;
import static dev.capsulevm.proto.v1.SyncOutcome.SYNC_OUTCOME_FAILED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.StatusResponse;
import dev.capsulevm.proto.v1.SyncNowRequest;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The client side of {@code Admin.SyncNow} and of the peers in {@code Status}. The host's side of
 * SyncNow is not in this module's host yet, so the stream comes from a scripted {@code Admin} service on
 * loopback: what is tested is how the client reads whatever a host sends.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdminClientTest {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Hash CAPSULE = Hash.copyOf(filled(7));

  private Server server;
  private volatile BiConsumer<SyncNowRequest, StreamObserver<dev.capsulevm.proto.v1.SyncProgress>> script;
  private volatile String seenAuthorization;

  @BeforeAll
  void start() throws Exception {
    AdminGrpc.AdminImplBase admin = new AdminGrpc.AdminImplBase() {
      @Override
      public void syncNow(SyncNowRequest request, StreamObserver<dev.capsulevm.proto.v1.SyncProgress> out) {
        script.accept(request, out);
      }
    };
    ServerInterceptor headers = new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata metadata,
          ServerCallHandler<Q, A> next) {
        seenAuthorization = metadata.get(AUTHORIZATION);
        return next.startCall(call, metadata);
      }
    };
    server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
        .addService(ServerInterceptors.intercept(admin, headers)).build().start();
  }

  @AfterAll
  void stop() throws Exception {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private AdminClient client() {
    return AdminClient.connect("127.0.0.1:" + server.getPort(), "secret");
  }

  private static byte[] filled(int b) {
    byte[] out = new byte[32];
    Arrays.fill(out, (byte) b);
    return out;
  }

  private static dev.capsulevm.proto.v1.SyncProgress.Builder report(int index, int count, String phase, long bytes) {
    return dev.capsulevm.proto.v1.SyncProgress.newBuilder().setCapsule(ByteString.copyFrom(filled(index + 1)))
        .setCapsuleIndex(index).setCapsuleCount(count).setPhase(phase).setBytesSent(bytes).setBytesReceived(2 * bytes)
        .setRecordsSent(1).setRecordsReceived(3).setRoundTrips(2);
  }

  @Test
  void syncNow_twoSessions_everyReportInOrderAndTheEndedOnesReturned() throws Exception {
    List<SyncNowRequest> requests = new ArrayList<>();
    script = (request, out) -> {
      requests.add(request);
      out.onNext(report(0, 2, "quick check", 10).build());
      out.onNext(report(0, 2, "records", 100).build());
      out.onNext(report(0, 2, "done", 120).setOutcome(SYNC_OUTCOME_CONVERGED).build());
      out.onNext(report(1, 2, "symbols", 5).build());
      out.onNext(report(1, 2, "done", 6).setOutcome(SYNC_OUTCOME_FAILED).setError("peer unreachable").build());
      out.onCompleted();
    };
    List<SyncProgress> seen = new ArrayList<>();
    try (AdminClient admin = client()) {
      List<SyncProgress> ended = admin.syncNow("10.0.0.2:7420", null, seen::add);
      assertEquals(5, seen.size());
      assertEquals(List.of(seen.get(2), seen.get(4)), ended);
      assertEquals(SyncOutcome.CONVERGED, ended.get(0).outcomeOrNull());
      assertEquals(240, ended.get(0).bytesReceived());
      assertEquals(Hash.copyOf(filled(1)), ended.get(0).capsuleOrNull());
      assertEquals(SyncOutcome.FAILED, ended.get(1).outcomeOrNull());
      assertEquals("peer unreachable", ended.get(1).errorOrNull());
      assertTrue(ended.get(1).outcomeOrNull().isProblem());
      assertNull(seen.get(0).outcomeOrNull());
      assertNull(seen.get(0).errorOrNull());
      assertEquals("records", seen.get(1).phase());
    }
    assertEquals("10.0.0.2:7420", requests.get(0).getPeer());
    assertTrue(requests.get(0).getCapsule().isEmpty(), "every capsule");
    assertEquals("Bearer secret", seenAuthorization);
  }

  @Test
  void syncNow_oneCapsule_isNamedInTheRequest() throws Exception {
    List<SyncNowRequest> requests = new ArrayList<>();
    script = (request, out) -> {
      requests.add(request);
      out.onNext(report(0, 1, "done", 1).setCapsule(request.getCapsule()).setOutcome(SYNC_OUTCOME_EQUAL).build());
      out.onCompleted();
    };
    try (AdminClient admin = client()) {
      List<SyncProgress> ended = admin.syncNow("peer:1", CAPSULE, p -> { });
      assertEquals(CAPSULE, ended.get(0).capsuleOrNull());
      assertEquals(SyncOutcome.EQUAL, ended.get(0).outcomeOrNull());
    }
    assertEquals(ByteString.copyFrom(filled(7)), requests.get(0).getCapsule());
  }

  @Test
  void syncNow_streamEndsMidSession_throws() {
    script = (request, out) -> {
      out.onNext(report(0, 3, "bloom", 1).build());
      out.onCompleted();
    };
    try (AdminClient admin = client()) {
      RenterException e = assertThrows(RenterException.class, () -> admin.syncNow("peer:1", null, p -> { }));
      assertTrue(e.getMessage().contains("session 1 of 3"), e.getMessage());
    }
  }

  @Test
  void syncNow_outcomeOfANewerHost_isUnknownAndAProblem() throws Exception {
    script = (request, out) -> {
      out.onNext(report(0, 1, "done", 1).setOutcomeValue(99).build());
      out.onCompleted();
    };
    try (AdminClient admin = client()) {
      SyncProgress ended = admin.syncNow("peer:1", null, p -> { }).get(0);
      assertEquals(SyncOutcome.UNKNOWN, ended.outcomeOrNull());
      assertTrue(ended.outcomeOrNull().isProblem());
    }
  }

  @Test
  void syncNow_malformedReports_throw() {
    for (var bad : List.of(report(0, 1, "done", 1).setCapsule(ByteString.copyFrom(new byte[31])),
        report(0, 1, "records", 1).setBytesSent(-1L))) {
      script = (request, out) -> {
        out.onNext(bad.build());
        out.onCompleted();
      };
      try (AdminClient admin = client()) {
        RenterException e = assertThrows(RenterException.class, () -> admin.syncNow("peer:1", null, p -> { }));
        assertTrue(e.getMessage().contains("malformed"), e.getMessage());
      }
    }
  }

  @Test
  void syncNow_errorStatus_isARenterExceptionNamingIt() {
    script = (request, out) -> out.onError(Status.UNAUTHENTICATED.withDescription("wrong token").asRuntimeException());
    try (AdminClient admin = client()) {
      RenterException e = assertThrows(RenterException.class, () -> admin.syncNow("peer:1", null, p -> { }));
      assertTrue(e.getMessage().contains("UNAUTHENTICATED"), e.getMessage());
    }
  }

  @Test
  void syncNow_listenerThrows_theCallIsCancelled() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    script = (request, out) -> {
      ((ServerCallStreamObserver<?>) out).setOnCancelHandler(cancelled::countDown);
      out.onNext(report(0, 1, "records", 1).build());
    };
    try (AdminClient admin = client()) {
      assertThrows(IllegalStateException.class, () -> admin.syncNow("peer:1", null, p -> {
        throw new IllegalStateException("stop");
      }));
    }
    assertTrue(cancelled.await(5, TimeUnit.SECONDS), "the host saw the cancellation");
  }

  private static final dev.capsulevm.proofs.crypto.PublicKey PEER_KEY =
      dev.capsulevm.proofs.crypto.SigningKey.generate().publicKey();

  @Test
  void peers_fromStatus_zeroTimesAreAbsent() throws Exception {
    StatusResponse status = StatusResponse.newBuilder()
        .addPeers(dev.capsulevm.proto.v1.PeerStatus.newBuilder().setAddress("a:1").setLastSessionEpochMillis(1_700_000_000_000L)
            .setLastOutcome(SYNC_OUTCOME_DIVERGED).setLastError("refused").setLastBytes(4096).setLastRecords(12).setSessions(5)
            .setFailures(2).setBackoffUntilEpochMillis(1_700_000_060_000L)
            .setKey(com.google.protobuf.ByteString.copyFrom(PEER_KEY.toByteArray())))
        .addPeers(dev.capsulevm.proto.v1.PeerStatus.newBuilder().setAddress("b:2"))
        .build();
    List<PeerStatus> peers = AdminClient.peers(status);
    assertEquals(new PeerStatus("a:1", Instant.ofEpochMilli(1_700_000_000_000L), SyncOutcome.DIVERGED, "refused",
        4096, 12, 5, 2, Instant.ofEpochMilli(1_700_000_060_000L), PEER_KEY), peers.get(0));
    assertEquals(new PeerStatus("b:2", null, null, null, 0, 0, 0, 0, null, null), peers.get(1));
    // A key that is not an Ed25519 point is a malformed status.
    assertThrows(RenterException.class, () -> AdminClient.peers(StatusResponse.newBuilder()
        .addPeers(dev.capsulevm.proto.v1.PeerStatus.newBuilder().setAddress("e:5")
            .setKey(com.google.protobuf.ByteString.copyFrom(new byte[31]))).build()));
    assertThrows(RenterException.class, () -> AdminClient.peers(StatusResponse.newBuilder()
        .addPeers(dev.capsulevm.proto.v1.PeerStatus.newBuilder().setAddress("c:3").setLastBytes(-1)).build()));
    // An outcome from a newer host is UNKNOWN to this SDK, and counts as a problem.
    PeerStatus newer = AdminClient.peers(StatusResponse.newBuilder()
        .addPeers(dev.capsulevm.proto.v1.PeerStatus.newBuilder().setAddress("d:4").setLastOutcomeValue(99)).build()).get(0);
    assertEquals(SyncOutcome.UNKNOWN, newer.lastOutcomeOrNull());
    assertTrue(newer.lastOutcomeOrNull().isProblem());
  }
}
