package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.ProgramMessages;
import dev.capsulevm.proto.v1.ExecuteRequest;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host that no longer takes the price table a client holds refuses the program with FAILED_PRECONDITION
 * before running it; {@link HostClient#run} then fetches the current table and submits once more.
 */
class PriceTableRefetchTest {
  @TempDir Path dir;
  private TestHost host;

  @BeforeEach
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
  }

  @AfterEach
  void stop() throws Exception {
    host.close();
  }

  @Test
  void aProgramRefusedForItsTableRunsOnceMoreWithTheCurrentOne() throws Exception {
    UnknownTable unknown = new UnknownTable(1);
    try (HostClient client = fundedClient(host, 10, unknown)) {
      Amount before = client.balance();
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 16, 256, "refetch");
      assertEquals(2, unknown.calls.get(), "the refused call and the one that ran");
      long cost = writer.lastResult().receipt().finalCost().units();
      assertEquals(before.units() - cost, client.balance().units(), "the refusal took nothing");
    }
  }

  @Test
  void theRetryHappensOnce() throws Exception {
    UnknownTable unknown = new UnknownTable(Integer.MAX_VALUE);
    try (HostClient client = fundedClient(host, 10, unknown)) {
      RenterException e = assertThrows(RenterException.class, () -> CapsuleWriter.create(client,
          SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD, 16, 256, "refetch"));
      assertTrue(e.getMessage().contains("FAILED_PRECONDITION"), e.getMessage());
      assertEquals(2, unknown.calls.get());
    }
  }

  /**
   * Names a price table the host never issued in the header of the first {@code times} programs, each on
   * its Execute call or on the program stream; {@link #calls} counts the programs sent.
   */
  private static final class UnknownTable implements ClientInterceptor {
    private final int times;
    final AtomicInteger calls = new AtomicInteger();

    UnknownTable(int times) {
      this.times = times;
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
        public void sendMessage(ReqT message) {
          super.sendMessage(ProgramMessages.mapRequest(message, UnknownTable.this::changed));
        }
      };
    }

    private ExecuteRequest changed(ExecuteRequest request) {
      if (!request.hasHeader() || calls.incrementAndGet() > times) {
        return request;
      }
      return request.toBuilder().setHeader(request.getHeader().toBuilder()
          .setPriceTableId(ByteString.copyFrom(new byte[32]))).build();
    }
  }
}
