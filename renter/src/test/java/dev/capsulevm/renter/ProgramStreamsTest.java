package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static dev.capsulevm.renter.EndToEndTest.subRecords;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.StreamResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Programs on the client's program stream (docs/PROTOCOL.md, "Program streams") against a real host:
 * many programs of many threads share one ExecuteStream call and each is verified as on its own call; a
 * program that does not fit a stream gets its own Execute call; a tampered output on the stream is caught
 * for that program alone; a stream that breaks fails the programs on it like calls, and the next program
 * opens a new stream.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProgramStreamsTest {
  @TempDir static Path dir;
  private TestHost host;
  private HostClient writerClient;
  private CapsuleWriter writer;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    writerClient = fundedClient(host, 1000, RenterOptions.defaults().withProgramStreams(false));
    writer = CapsuleWriter.create(writerClient, SigningKey.generate(), SigningKey.generate(),
        SigningPolicy.EVERY_RECORD, 64, 64, "streamed");
    writer.append(writerClient, subRecords("r", 8));
  }

  @AfterAll
  void stop() throws Exception {
    writerClient.close();
    host.close();
  }

  /** Counts the calls started per method, and breaks the first {@code breakFirst} program streams. */
  private static final class Calls implements ClientInterceptor {
    final AtomicInteger execute = new AtomicInteger();
    final AtomicInteger streams = new AtomicInteger();
    private final int breakFirst;

    Calls(int breakFirst) {
      this.breakFirst = breakFirst;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
        CallOptions options, Channel next) {
      ClientCall<ReqT, RespT> call = next.newCall(method, options);
      String name = method.getFullMethodName();
      if (name.equals(HostGrpc.getExecuteMethod().getFullMethodName())) {
        execute.incrementAndGet();
      }
      if (!name.equals(HostGrpc.getExecuteStreamMethod().getFullMethodName())
          || streams.incrementAndGet() > breakFirst) {
        return call;
      }
      // This stream breaks at its first program output: cancelled at the host, UNAVAILABLE for the renter.
      return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        @Override
        public void start(Listener<RespT> listener, Metadata headers) {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
            private boolean cut;

            @Override
            public void onMessage(RespT message) {
              if (!cut && ((StreamResponse) message).getResponse().hasResult()) {
                cut = true;
                call.cancel("the test breaks the stream", null);
                super.onClose(Status.UNAVAILABLE.withDescription("connection reset"), new Metadata());
              } else if (!cut) {
                super.onMessage(message);
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

  private ProgramBuilder read(HostClient client, int index) throws RenterException {
    Record head = writer.heads().get(0);
    ProgramBuilder read = client.newProgram(writer.capsuleId());
    read.readSubRecordAtHeight(head.header().height(), index, head.header());
    return read;
  }

  @Test
  void manyThreadsShareOneStreamAndEveryOutputIsVerified() throws Exception {
    Calls calls = new Calls(0);
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try (HostClient client = fundedClient(host, 100, calls)) {
      client.metadata(writer.capsuleId());
      List<Future<byte[]>> reads = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        int index = i % 8;
        reads.add(threads.submit(() -> client.run(read(client, index).build()).output(0).payload()));
      }
      for (int i = 0; i < reads.size(); i++) {
        assertArrayEquals(("r " + (i % 8)).getBytes(StandardCharsets.UTF_8), reads.get(i).get());
      }
      // Pipelined programs nobody waits for in the calling thread come back on the client's pool.
      List<ProgramRun> runs = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        runs.add(client.submit(read(client, i).build()));
      }
      for (int i = 0; i < runs.size(); i++) {
        assertArrayEquals(("r " + i).getBytes(StandardCharsets.UTF_8), runs.get(i).result().output(0).payload());
      }
      assertEquals(1, calls.streams.get(), "one program stream for every program");
      assertEquals(0, calls.execute.get(), "no Execute call: the metadata fetch went on the stream too");
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void aProgramThatDoesNotFitAStreamHasItsOwnCall() throws Exception {
    Calls calls = new Calls(0);
    CapsuleWriter copy = new CapsuleWriter(writer.metadata(), writer.writerKey(), writer.heads(),
        writer.knownHeaders());
    try (HostClient client = fundedClient(host, 100,
        RenterOptions.defaults().withChunkSize(16).withInterceptors(List.of(calls)))) {
      copy.append(client, subRecords("a longer sub-record than one chunk of sixteen bytes", 1));
      assertEquals(1, calls.execute.get(), "data over one message: its own Execute call");
      assertEquals(0, calls.streams.get());
      client.run(read(client, 0).build());
      assertEquals(1, calls.streams.get(), "a read fits a stream");
    }
    Calls confirming = new Calls(0);
    try (HostClient client = fundedClient(host, 100,
        RenterOptions.defaults().withConfirmCommits(true).withInterceptors(List.of(confirming)))) {
      copy.append(client, subRecords("confirmed", 1));
      assertEquals(1, confirming.execute.get(), "a write that waits for a proposal: its own Execute call");
    }
  }

  @Test
  void dataOfTwoMessagesGoesOnTheStreamOfAHostWithTheLeastBuffer(@TempDir Path tight) throws Exception {
    // A buffer of one largest message (the least a host accepts), which still holds the append's record
    // (an instruction's reference must fit it, on any RPC): both chunks arrive unpaced and are taken.
    int message = 96 * 1024;
    try (TestHost small = new TestHost(TestHost.config(tight).withBuffers(message, message))) {
      Calls calls = new Calls(0);
      try (HostClient client = fundedClient(small, 100, RenterOptions.defaults().withInterceptors(List.of(calls)))) {
        CapsuleWriter batch = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
            SigningPolicy.EVERY_RECORD, 64, 1024, "two chunks");
        int calledBefore = calls.execute.get();
        List<byte[]> blocks = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
          byte[] block = new byte[1024];
          block[0] = (byte) i;
          blocks.add(block);
        }
        for (int k = 0; k < 4; k++) {
          batch.append(client, blocks);
        }
        assertEquals(calledBefore, calls.execute.get(),
            "64 KiB of sub-records and the record around them: two chunks, on the stream");
        assertEquals(1, calls.streams.get());
        Record head = batch.heads().get(0);
        ProgramBuilder read = client.newProgram(batch.capsuleId());
        read.readSubRecordAtHeight(head.header().height(), 63, head.header());
        assertEquals(63, client.run(read.build()).output(0).payload()[0]);
      }
    }
  }

  @Test
  void aHostWithoutProgramStreamsGetsExecuteCallsAfterItsFirstRefusal() throws Exception {
    Calls calls = new Calls(0);
    ClientInterceptor older = new ClientInterceptor() { // answers ExecuteStream as a host before it did
      @Override
      public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
          CallOptions options, Channel next) {
        if (!method.getFullMethodName().equals(HostGrpc.getExecuteStreamMethod().getFullMethodName())) {
          return next.newCall(method, options);
        }
        return new RefusedCall<>(Status.UNIMPLEMENTED.withDescription("Method not found: ExecuteStream"), Runnable::run);
      }
    };
    try (HostClient client = fundedClient(host, 100, RenterOptions.defaults().withInterceptors(List.of(older, calls)))) {
      assertArrayEquals("r 5".getBytes(StandardCharsets.UTF_8), client.run(read(client, 5).build()).output(0).payload(),
          "refused UNAVAILABLE on the stream before anything ran, then run again on an Execute call");
      assertArrayEquals("r 6".getBytes(StandardCharsets.UTF_8), client.run(read(client, 6).build()).output(0).payload());
      assertEquals(1, calls.streams.get(), "the stream was tried once");
      assertEquals(3, calls.execute.get(), "the metadata fetch (again) and both reads on Execute calls");
    }
  }

  @Test
  void aTamperedOutputOnTheStreamIsCaughtForThatProgramAlone() throws Exception {
    Tamper tamper = new Tamper();
    try (HostClient client = fundedClient(host, 100, tamper)) {
      client.metadata(writer.capsuleId());
      tamper.set((position, response) -> {
        if (!response.hasResult()) {
          return response;
        }
        byte[] output = response.getResult().getOutput().toByteArray();
        output[output.length - 1] ^= 1;
        return response.toBuilder().setResult(response.getResult().toBuilder()
            .setOutput(ByteString.copyFrom(output))).build();
      });
      assertThrows(HostMisbehaviourException.class, () -> client.run(read(client, 3).build()));
      assertTrue(tamper.changed.get() > 0, "the stream's output was changed");
      tamper.clear();
      assertArrayEquals("r 3".getBytes(StandardCharsets.UTF_8), client.run(read(client, 3).build()).output(0).payload(),
          "the stream goes on for the next program");
    }
  }

  @Test
  void aBrokenStreamFailsItsProgramsAndTheNextProgramOpensAnother() throws Exception {
    Calls calls = new Calls(1);
    try (HostClient client = fundedClient(host, 100, RenterOptions.defaults()
        .withRetries(RenterOptions.Retries.NONE).withInterceptors(List.of(calls)))) {
      // The first program (the metadata fetch) is on the stream that breaks.
      RenterException e = assertThrows(RenterException.class, () -> client.metadata(writer.capsuleId()));
      assertTrue(e.getMessage().contains("UNAVAILABLE"), e.getMessage());
      assertArrayEquals("r 2".getBytes(StandardCharsets.UTF_8), client.run(read(client, 2).build()).output(0).payload());
      assertEquals(2, calls.streams.get(), "a new stream after the broken one");
    }
  }
}
