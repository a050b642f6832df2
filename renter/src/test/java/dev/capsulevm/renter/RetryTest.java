package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.HostGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 17, "The SDK fails fast and retries politely": a program the host refuses with RESOURCE_EXHAUSTED or
 * UNAVAILABLE before running it is submitted again after a back-off, a bounded number of times, a write
 * included (nothing was confirmed, nothing taken); one that ends so after it started is never retried. The
 * refusals come from an interceptor in front of a real {@link TestHost}; the back-off goes through a
 * {@link FakeScheduler}, which records the delays instead of waiting.
 */
class RetryTest {
  private static final RenterOptions.Retries EXACT =
      new RenterOptions.Retries(3, Duration.ofMillis(100), Duration.ofSeconds(5), 0);

  @TempDir Path dir;
  private TestHost host;
  private final FakeScheduler scheduler = new FakeScheduler();

  @BeforeEach
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
  }

  @AfterEach
  void stop() throws Exception {
    host.close();
  }

  private HostClient client(RenterOptions.Retries retries, ClientInterceptor interceptor) throws RenterException {
    SigningKey account = SigningKey.generate();
    Accounts.fund(host, account, 10);
    // The interceptors stand in for the host on Execute calls; a program stream hands its run the same statuses.
    return HostClient.connect(host.address(), account, RenterOptions.defaults().withInterceptors(List.of(interceptor))
        .withRetries(retries).withScheduler(scheduler).withProgramStreams(false));
  }

  private static CapsuleWriter create(HostClient client) throws RenterException {
    return CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD, 16,
        256, "retry");
  }

  @Test
  void aWriteRefusedTwiceAsBusyRunsOnTheThirdCallAfterBackingOff() throws Exception {
    Refuse refuse = new Refuse(2, Status.RESOURCE_EXHAUSTED.withDescription("the host runs 64 programs"));
    try (HostClient client = client(EXACT, refuse)) {
      Amount before = client.balance();
      CapsuleWriter writer = create(client);
      assertEquals(3, refuse.calls.get(), "two refusals and the call that ran");
      assertEquals(List.of(Duration.ofMillis(100), Duration.ofMillis(200)), scheduler.sleeps);
      long cost = writer.lastResult().receipt().finalCost().units();
      assertEquals(before.units() - cost, client.balance().units(), "the refusals took nothing");
    }
  }

  @Test
  void retriesAreBoundedAndTheirWaitsDoubleWithJitter() throws Exception {
    Refuse refuse = new Refuse(Integer.MAX_VALUE, Status.UNAVAILABLE.withDescription("going away"));
    try (HostClient client = client(RenterOptions.Retries.DEFAULT, refuse)) {
      RenterException e = assertThrows(RenterException.class, () -> create(client));
      assertTrue(e.getMessage().contains("UNAVAILABLE"), e.getMessage());
      assertEquals(4, refuse.calls.get(), "the call and the default 3 retries");
      assertEquals(3, scheduler.sleeps.size());
      long base = 100;
      for (Duration slept : scheduler.sleeps) {
        assertTrue(slept.toMillis() >= base / 2 && slept.toMillis() <= base, slept + " for " + base + " ms");
        base *= 2;
      }
    }
  }

  @Test
  void noRetriesWhenSwitchedOff() throws Exception {
    Refuse refuse = new Refuse(1, Status.RESOURCE_EXHAUSTED);
    try (HostClient client = client(RenterOptions.Retries.NONE, refuse)) {
      RenterException e = assertThrows(RenterException.class, () -> create(client));
      assertTrue(e.getMessage().contains("RESOURCE_EXHAUSTED"), e.getMessage());
      assertEquals(1, refuse.calls.get());
      assertEquals(List.of(), scheduler.sleeps);
    }
  }

  /**
   * A write whose call ends with RESOURCE_EXHAUSTED after the host sent its first output (0), or after its
   * proposal, once the renter confirmed the commit (1), is never sent again: it ran.
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1})
  void aWriteRefusedAfterItStartedIsNeverRetried(int cutAfter) throws Exception {
    CutAfter cut = new CutAfter(cutAfter);
    try (HostClient client = client(EXACT, cut)) {
      RenterException e = assertThrows(RenterException.class, () -> create(client));
      assertTrue(e.getMessage().contains("RESOURCE_EXHAUSTED") && e.getMessage().contains("after 1 verified outputs"),
          e.getMessage());
      assertEquals(1, cut.calls.get(), "one call: never retried");
      assertEquals(List.of(), scheduler.sleeps);
    }
  }

  @Test
  void backoffDoublesUpToItsCeiling() {
    RenterOptions.Retries r = new RenterOptions.Retries(10, Duration.ofMillis(100), Duration.ofMillis(700), 0.5);
    assertEquals(Duration.ofMillis(100), r.backoff(0, 0));
    assertEquals(Duration.ofMillis(400), r.backoff(2, 0));
    assertEquals(Duration.ofMillis(700), r.backoff(3, 0), "capped");
    assertEquals(Duration.ofMillis(700), r.backoff(60, 0), "no overflow");
    assertEquals(Duration.ofMillis(300), r.backoff(2, 0.5), "jitter 0.5: a random half of the wait, here half of it");
    assertTrue(r.backoff(2, 0.999_999).compareTo(Duration.ofMillis(200)) > 0, "never less than half");
  }

  private static boolean isExecute(MethodDescriptor<?, ?> method) {
    return method.getFullMethodName().equals(HostGrpc.getExecuteMethod().getFullMethodName());
  }

  /**
   * Refuses the first {@code times} Execute calls with {@code status} before the host sees them, as a full
   * host does: the call ends with the status, no message, later on another thread.
   */
  private static final class Refuse implements ClientInterceptor {
    private final int times;
    private final Status status;
    final AtomicInteger calls = new AtomicInteger();

    Refuse(int times, Status status) {
      this.times = times;
      this.status = status;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
        CallOptions options, Channel next) {
      if (!isExecute(method) || calls.incrementAndGet() > times) {
        return next.newCall(method, options);
      }
      return new RefusedCall<>(status, ForkJoinPool.commonPool());
    }
  }

  /**
   * Passes an Execute call's responses up to message {@code position} (from 0), then cancels the call to
   * the host and ends it for the renter with RESOURCE_EXHAUSTED.
   */
  private static final class CutAfter implements ClientInterceptor {
    private final int position;
    final AtomicInteger calls = new AtomicInteger();

    CutAfter(int position) {
      this.position = position;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
        CallOptions options, Channel next) {
      ClientCall<ReqT, RespT> call = next.newCall(method, options);
      if (!isExecute(method)) {
        return call;
      }
      calls.incrementAndGet();
      return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        @Override
        public void start(Listener<RespT> listener, Metadata headers) {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
            private int seen;
            private boolean cut;

            @Override
            public void onMessage(RespT message) {
              if (cut) {
                return;
              }
              super.onMessage(message);
              if (seen++ == position) {
                cut = true;
                call.cancel("the test cuts the call", null);
                super.onClose(Status.RESOURCE_EXHAUSTED.withDescription("cut"), new Metadata());
              }
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              if (!cut) {
                super.onClose(status, trailers);
              }
            }
          }, headers);
        }
      };
    }
  }
}
