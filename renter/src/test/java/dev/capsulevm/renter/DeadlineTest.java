package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.GetPriceTableRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.PriceTableResponse;
import dev.capsulevm.proto.v1.StreamRequest;
import dev.capsulevm.proto.v1.StreamResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 17, "No deadline on Execute in the SDK": a host that takes a program and then never answers (as
 * one stopped with SIGSTOP) ends the program with {@link DeadlineExceededException} at the idle timeout or
 * the program's deadline, and the renter cancels the stream, so a write is never confirmed. The host is a
 * stand-in over real gRPC that serves a price table and swallows every Execute call; the idle timer runs
 * on a {@link FakeScheduler}, so no test waits for it. On a program stream the program's deadline is such
 * a timer too.
 */
class DeadlineTest {
  private static final long WAIT_SECONDS = 30; // for events over loopback gRPC; never reached when they happen

  private final SigningKey hostKey = SigningKey.generate();
  private final ScriptedHost clockSource = new ScriptedHost();
  private final FakeScheduler scheduler = new FakeScheduler();
  private final AtomicInteger tableRefusals = new AtomicInteger();
  private final AtomicInteger tableCalls = new AtomicInteger();
  private final AtomicInteger executeCalls = new AtomicInteger();
  private final List<ExecuteRequest> received = new CopyOnWriteArrayList<>();
  /** What arrived on program streams. */
  private final List<StreamRequest> streamed = new CopyOnWriteArrayList<>();
  private final CountDownLatch header = new CountDownLatch(1);
  private final CountDownLatch cancelled = new CountDownLatch(1);
  private Server server;

  @BeforeEach
  void start() throws Exception {
    byte[] table = ScriptedHost.table(hostKey).sign(hostKey).encode();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new HostGrpc.HostImplBase() {
      @Override
      public void getPriceTable(GetPriceTableRequest request, StreamObserver<PriceTableResponse> out) {
        tableCalls.incrementAndGet();
        if (tableRefusals.getAndDecrement() > 0) {
          out.onError(Status.UNAVAILABLE.withDescription("restarting").asRuntimeException());
          return;
        }
        out.onNext(PriceTableResponse.newBuilder().setSignedPriceTable(ByteString.copyFrom(table)).build());
        out.onCompleted();
      }

      @Override
      public StreamObserver<ExecuteRequest> execute(StreamObserver<ExecuteResponse> responses) {
        executeCalls.incrementAndGet();
        ((ServerCallStreamObserver<ExecuteResponse>) responses).setOnCancelHandler(cancelled::countDown);
        return new StreamObserver<>() {
          @Override
          public void onNext(ExecuteRequest request) {
            received.add(request);
            if (request.hasHeader()) {
              header.countDown();
            }
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        };
      }

      @Override
      public StreamObserver<StreamRequest> executeStream(StreamObserver<StreamResponse> responses) {
        return new StreamObserver<>() {
          @Override
          public void onNext(StreamRequest request) {
            streamed.add(request);
            if (request.getRequest().hasHeader()) {
              header.countDown();
            }
            if (request.hasCancel()) {
              cancelled.countDown();
            }
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        };
      }
    }).build().start();
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdownNow().awaitTermination();
  }

  /** A client that sends each program on its own Execute call (the tests below the stream's own). */
  private HostClient connect(RenterOptions options) {
    return connectStreaming(options.withProgramStreams(false));
  }

  private HostClient connectStreaming(RenterOptions options) {
    return HostClient.connect("127.0.0.1:" + server.getPort(), SigningKey.generate(),
        options.withClock(clockSource.clock).withScheduler(scheduler));
  }

  @Test
  void onAProgramStreamTheDeadlineCancelsTheProgramAtTheHost() throws Exception {
    try (HostClient client = connectStreaming(RenterOptions.defaults().withIdleTimeout(Duration.ZERO))) {
      ProgramRun run = client.submit(read());
      assertTrue(header.await(WAIT_SECONDS, TimeUnit.SECONDS), "the host got the program on the stream");
      assertEquals(List.of(Duration.ofMinutes(10)), scheduler.pending(), "the program's deadline is a timer");
      assertFalse(run.completion().isDone());

      scheduler.fire();

      DeadlineExceededException e = deadlineOf(run);
      assertEquals(DeadlineExceededException.Kind.PROGRAM, e.kind());
      assertEquals(Duration.ofMinutes(10), e.limit());
      assertTrue(cancelled.await(WAIT_SECONDS, TimeUnit.SECONDS), "the renter cancelled the program");
      StreamRequest cancel = streamed.get(streamed.size() - 1);
      assertEquals(streamed.get(0).getProgram(), cancel.getProgram(), "the cancel names the program");
      assertTrue(cancel.getCancel().contains("deadline"), cancel.getCancel());
      assertEquals(List.of(), received, "no Execute call");
    }
  }

  @Test
  void onAProgramStreamTheIdleTimeoutCancelsOnlyThatProgram() throws Exception {
    try (HostClient client = connectStreaming(RenterOptions.defaults())) {
      ProgramRun run = client.submit(read());
      assertTrue(header.await(WAIT_SECONDS, TimeUnit.SECONDS));
      assertEquals(List.of(Duration.ofMinutes(10), Duration.ofSeconds(60)), scheduler.pending(),
          "the program's deadline, then its idle timer");
      // The idle timer alone: the run cancels the program, which stops its deadline timer.
      scheduler.fireLast();

      assertEquals(DeadlineExceededException.Kind.IDLE, deadlineOf(run).kind());
      assertTrue(cancelled.await(WAIT_SECONDS, TimeUnit.SECONDS), "the renter cancelled the program");
      assertEquals(List.of(), scheduler.pending(), "the deadline timer is cancelled with the program");
    }
  }

  /** A {@code CreateCapsule} program: a write, which the renter would confirm had the host proposed it. */
  private PreparedProgram write() {
    ProgramBuilder b = ProgramBuilder.withoutCapsule();
    b.createCapsule(CapsuleWriter.newMetadata(SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD,
        16, 256, "silent", ScriptedHost.NOW.toEpochMilli()));
    return b.build();
  }

  /** A {@code Metadata} program: read-only, so it goes on a program stream. */
  private static PreparedProgram read() {
    ProgramBuilder b = new ProgramBuilder(Hash.fromHex("01".repeat(Hash.LENGTH)), null, null, null);
    b.metadata();
    return b.build();
  }

  private static DeadlineExceededException deadlineOf(ProgramRun run) throws Exception {
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> run.completion().get(WAIT_SECONDS, TimeUnit.SECONDS));
    DeadlineExceededException timeout = assertInstanceOf(DeadlineExceededException.class, e.getCause());
    assertEquals(timeout, assertThrows(DeadlineExceededException.class, run::result), "result() says the same");
    return timeout;
  }

  @Test
  void aHostThatNeverAnswersIsCancelledAtTheIdleTimeout() throws Exception {
    try (HostClient client = connect(RenterOptions.defaults())) {
      ProgramRun run = client.submit(write());
      assertTrue(header.await(WAIT_SECONDS, TimeUnit.SECONDS), "the host got the program");
      assertEquals(List.of(Duration.ofSeconds(60)), scheduler.pending(), "the default idle timeout is armed");
      assertFalse(run.completion().isDone(), "nothing ends the program before the timer");

      scheduler.fire();

      DeadlineExceededException e = deadlineOf(run);
      assertEquals(DeadlineExceededException.Kind.IDLE, e.kind());
      assertEquals(Duration.ofSeconds(60), e.limit());
      assertTrue(e.getMessage().contains("sent nothing for PT1M") && e.getMessage().contains("nothing was committed"),
          e.getMessage());
      assertTrue(cancelled.await(WAIT_SECONDS, TimeUnit.SECONDS), "the renter cancelled the stream");
      assertTrue(received.stream().noneMatch(ExecuteRequest::hasDecision), "no commit decision was sent");
      assertEquals(1, executeCalls.get(), "a deadline is not retried");
      assertEquals(List.of(), scheduler.sleeps);
    }
  }

  @Test
  void theIdleTimeoutIsConfigurableAndCanBeOff() throws Exception {
    try (HostClient client = connect(RenterOptions.defaults().withIdleTimeout(Duration.ofSeconds(5)))) {
      ProgramRun run = client.submit(write());
      assertEquals(List.of(Duration.ofSeconds(5)), scheduler.pending());
      scheduler.fire();
      assertEquals(Duration.ofSeconds(5), deadlineOf(run).limit());
    }
    try (HostClient client = connect(RenterOptions.defaults().withIdleTimeout(Duration.ZERO)
        .withProgramDeadline(Duration.ofMillis(200)))) {
      ProgramRun run = client.submit(write());
      assertEquals(List.of(), scheduler.pending(), "no idle timer");
      assertEquals(DeadlineExceededException.Kind.PROGRAM, deadlineOf(run).kind(), "only the deadline ends it");
    }
  }

  @Test
  void aHostThatNeverAnswersEndsAtTheProgramDeadline() throws Exception {
    // A real gRPC deadline; the host never answers, so the call ends at it however fast the machine is.
    try (HostClient client = connect(RenterOptions.defaults().withProgramDeadline(Duration.ofMillis(200)))) {
      ProgramRun run = client.submit(write());
      DeadlineExceededException e = deadlineOf(run);
      assertEquals(DeadlineExceededException.Kind.PROGRAM, e.kind());
      assertEquals(Duration.ofMillis(200), e.limit());
      assertTrue(e.getMessage().contains("did not end within its deadline of PT0.2S"), e.getMessage());
      assertTrue(received.stream().noneMatch(ExecuteRequest::hasDecision), "no commit decision was sent");
      assertEquals(List.of(), scheduler.pending(), "the idle timer is cancelled with the run");
      assertEquals(List.of(), scheduler.sleeps, "a deadline is not retried");
    }
  }

  @Test
  void aPriceTableRefusedAsUnavailableIsFetchedAgainAfterBackOff() throws Exception {
    tableRefusals.set(2);
    RenterOptions.Retries exact = new RenterOptions.Retries(3, Duration.ofMillis(100), Duration.ofSeconds(5), 0);
    try (HostClient client = connect(RenterOptions.defaults().withRetries(exact))) {
      assertEquals(hostKey.publicKey(), client.priceTable().hostKey());
      assertEquals(3, tableCalls.get());
      assertEquals(List.of(Duration.ofMillis(100), Duration.ofMillis(200)), scheduler.sleeps);
    }
  }

  @Test
  void aPriceTableAlwaysUnavailableFailsAfterTheRetries() throws Exception {
    tableRefusals.set(Integer.MAX_VALUE);
    try (HostClient client = connect(RenterOptions.defaults().withRetries(RenterOptions.Retries.NONE))) {
      RenterException e = assertThrows(RenterException.class, client::priceTable);
      assertTrue(e.getMessage().contains("UNAVAILABLE"), e.getMessage());
      assertEquals(1, tableCalls.get());
    }
  }
}
