package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.chain;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.dump;
import static dev.capsulevm.host.replication.Replicas.put;
import static dev.capsulevm.host.replication.Replicas.sync;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.sync.InMemoryDag;
import dev.capsulevm.host.sync.Reconciler;
import dev.capsulevm.host.sync.SetDigest;
import dev.capsulevm.host.sync.SyncRecord;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proto.v1.SyncFrame;
import dev.capsulevm.proto.v1.SyncGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A peer that lies: it answers sessions with records whose bytes were tampered with, whose entries name
 * other parents, that a stranger signed, that hang off parents nobody has, or with endless garbage. The
 * honest host stores nothing of it, backs it off, counts it, and still converges with honest peers.
 */
class LyingPeerTest {
  @TempDir
  Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"bad signature", "tampered sub-record", "wrong parents", "stranger", "orphan", "garbage",
      "no summary"})
  void aLyingPeerStoresNothingAndHonestPeersStillConverge(String lie) throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("lie " + lie);
    try (HostServer a = HostServer.start(Replicas.config(dir.resolve("a")).withMetricsPort(0));
        HostServer c = Replicas.start(dir.resolve("c"))) {
      create(a, capsule);
      create(c, capsule);
      List<RecordWithBody> common = chain(capsule, capsule.id(), 10, "common", 1);
      put(a, common);
      put(c, common);
      Hash tip = common.get(common.size() - 1).hash();
      List<RecordWithBody> honest = chain(capsule, tip, 15, "honest", 2);
      put(c, honest);
      List<RecordWithBody> liarsOwn = new ArrayList<>(common);
      if (!lie.equals("stranger") && !lie.equals("orphan")) {
        liarsOwn.addAll(chain(capsule, tip, 6, "lie", 2)); // genuine records, served tampered
      }
      Liar liar = new Liar(capsule, liarsOwn, lie);
      try (liar) {
        SortedMap<String, SortedMap<String, String>> before = dump(a);
        Replicator.SessionResult result =
            a.replicator().syncNow(liar.address(), capsule.id(), Replicator.ProgressListener.NONE).get(0);
        assertFalse(result.ok(), "a lying peer's session does not end well: " + result.outcome());
        assertEquals(before, dump(a), "nothing of the lie is stored");
        Replicator.PeerState state = a.replicator().peers().stream()
            .filter(p -> p.address().equals(liar.address())).findFirst().orElseThrow();
        assertEquals(1, state.failures());
        assertNotNull(state.backoffUntil(), "the liar is backed off");
        String metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
            java.net.URI.create("http://127.0.0.1:" + a.metricsPort() + "/metrics")).build(),
            java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        boolean invalid = !lie.equals("orphan"); // an orphan is a failure to converge, not an invalid record
        assertEquals(invalid, metrics.contains("capsulevm_sync_misbehaviour_total{peer=\"" + liar.key().toHex()
            + "\"} 1.0"), metrics);
        assertEquals(liar.key(), state.key(), "the liar proved its key before it lied");
      }
      Replicator.SessionResult healed = sync(a, c, capsule.id());
      assertEquals(SyncOutcome.CONVERGED, healed.outcome(), healed.error());
      assertConverged(capsule.id(), a, c);
    }
  }

  /**
   * Garbage from an initiator that proved no key is refused and held against no one: c's sessions come
   * from the same loopback address and are still answered.
   */
  @Test
  void garbageBeforeAProofIsRefusedAndBacksOffNobody() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("garbage in");
    SettableClock clock = new SettableClock(Instant.now());
    try (HostServer a = HostServer.start(Replicas.config(dir.resolve("a")).withClock(clock, Duration.ofHours(1)));
        HostServer c = Replicas.start(dir.resolve("c"))) {
      create(a, capsule);
      create(c, capsule);
      put(a, chain(capsule, capsule.id(), 20, "r", 1));
      SortedMap<String, SortedMap<String, String>> before = dump(a);
      ManagedChannel channel = ManagedChannelBuilder.forTarget(Replicas.address(a)).usePlaintext().build();
      try {
        Random random = new Random(7);
        byte[] junk = new byte[4096];
        random.nextBytes(junk);
        RecordingObserver answers = new RecordingObserver();
        StreamObserver<SyncFrame> requests = SyncGrpc.newStub(channel).session(answers);
        requests.onNext(SyncFrame.newBuilder().setTurnBytes(junk.length).setTurn(ByteString.copyFrom(junk)).build());
        Throwable error = answers.awaitError();
        assertTrue(error instanceof StatusRuntimeException s
            && s.getStatus().getCode() == io.grpc.Status.Code.INVALID_ARGUMENT
            && String.valueOf(s.getStatus().getDescription()).contains("proof"), String.valueOf(error));
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      assertEquals(before, dump(a));
      assertTrue(a.replicator().peers().isEmpty(), "nobody is backed off: " + a.replicator().peers());
      Replicator.SessionResult answered = sync(c, a, capsule.id());
      assertEquals(SyncOutcome.CONVERGED, answered.outcome(), answered.error());
      assertConverged(capsule.id(), a, c);
    }
  }

  /**
   * Three peers behind one address (loopback): the one that proves its key and then sends garbage is
   * backed off by that key; the two honest ones are answered throughout, and the liar again once its
   * back-off has passed on a's clock.
   */
  @Test
  void backOffIsPerHostKeyNotPerAddress() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("per key");
    SettableClock clock = new SettableClock(Instant.now());
    try (HostServer a = HostServer.start(Replicas.config(dir.resolve("a")).withClock(clock, Duration.ofHours(1))
            .withMetricsPort(0));
        HostServer b = Replicas.start(dir.resolve("b"));
        HostServer c = Replicas.start(dir.resolve("c"))) {
      create(a, capsule);
      put(a, chain(capsule, capsule.id(), 20, "r", 1));
      dev.capsulevm.proofs.crypto.SigningKey liar = dev.capsulevm.proofs.crypto.SigningKey.generate();
      assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, garbageAfterProof(a, liar, capsule.id()).code());
      Replicator.PeerState state = a.replicator().peers().stream()
          .filter(p -> p.address().equals(liar.publicKey().toHex())).findFirst().orElseThrow();
      assertNotNull(state.backoffUntil(), "the liar's key is backed off");
      assertEquals(1, a.replicator().peers().size(), "only the liar is remembered: " + a.replicator().peers());
      SyncFailure refused = garbageAfterProof(a, liar, capsule.id());
      assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, refused.code(), refused.getMessage());
      assertTrue(refused.getMessage().contains(liar.publicKey().toHex()), refused.getMessage());

      for (HostServer honest : List.of(b, c)) {
        Replicator.SessionResult pulled = sync(honest, a, capsule.id());
        assertEquals(SyncOutcome.CONVERGED, pulled.outcome(), pulled.error());
      }
      assertConverged(capsule.id(), a, b, c);
      String metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
          java.net.URI.create("http://127.0.0.1:" + a.metricsPort() + "/metrics")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).body();
      assertTrue(metrics.contains("capsulevm_sync_misbehaviour_total{peer=\"" + liar.publicKey().toHex() + "\"} 1.0"),
          metrics);

      clock.advance(Replicas.config(dir).replication().backoffMax().plusSeconds(1));
      assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, garbageAfterProof(a, liar, capsule.id()).code(),
          "past its back-off the liar is answered (and refused for its garbage) again");
    }
  }

  /** Opens a session with {@code host} as {@code key}, proves it, then sends a turn of garbage; returns how it ended. */
  private static SyncFailure garbageAfterProof(HostServer host, dev.capsulevm.proofs.crypto.SigningKey key,
      Hash capsule) throws Exception {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(Replicas.address(host)).usePlaintext().build();
    try {
      java.time.Duration wait = java.time.Duration.ofSeconds(10);
      FrameChannel frames = new FrameChannel();
      SyncGrpc.newStub(channel).session(frames);
      PeerHandshake.Initiator handshake = new PeerHandshake.Initiator(key, PeerHandshake.ExchangeKey.generate(), capsule);
      frames.send(handshake.opening(), wait);
      PeerHandshake.Proven proven = handshake.answer(frames, wait);
      assertEquals(host.hostKey(), proven.peer());
      byte[] junk = new byte[4096];
      new Random(7).nextBytes(junk);
      frames.send(SyncFrame.newBuilder().setProof(proven.signature()).setTurnBytes(junk.length)
          .setTurn(ByteString.copyFrom(junk)).build(), wait);
      return assertThrows(SyncFailure.class, () -> frames.take(wait));
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** An initiator that keeps asking for coded symbols after the stream ended only holds a slot: it is cut. */
  @Test
  void askingForSymbolsAfterTheStreamEndedEndsTheSession() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("greedy");
    List<RecordWithBody> records = chain(capsule, capsule.id(), 2_000, "g", 1);
    try (HostServer a = Replicas.start(dir.resolve("a"))) {
      create(a, capsule);
      put(a, records);
      List<SyncRecord> mine = new ArrayList<>();
      for (RecordWithBody r : records.subList(0, records.size() - 10)) {
        mine.add(new SyncRecord(r.hash(), r.record().header().parents()));
      }
      Reconciler initiator = new Reconciler(InMemoryDag.of(capsule.id(), mine), Reconciler.Role.INITIATOR,
          Reconciler.Config.DEFAULT);
      ManagedChannel channel = ManagedChannelBuilder.forTarget(Replicas.address(a)).usePlaintext().build();
      try {
        FrameChannel frames = new FrameChannel();
        SyncGrpc.newStub(channel).session(frames);
        java.time.Duration wait = java.time.Duration.ofSeconds(10);
        PeerHandshake.Initiator handshake = new PeerHandshake.Initiator(
            dev.capsulevm.proofs.crypto.SigningKey.generate(), PeerHandshake.ExchangeKey.generate(), capsule.id());
        frames.send(handshake.opening(), wait);
        PeerHandshake.Proven proven = handshake.answer(frames, wait);
        frames.send(turn(initiator.start()).toBuilder().setProof(proven.signature()).build(), wait);
        assertTrue(dev.capsulevm.host.sync.SyncCodec.decodeTurn(frames.take(wait).getTurn().toByteArray(),
            dev.capsulevm.host.sync.SyncLimits.DEFAULT).get(1) instanceof dev.capsulevm.host.sync.SyncMessage.Symbols,
            "the responder streams coded symbols");
        byte[] empty = dev.capsulevm.host.sync.SyncCodec.encodeTurn(List.of());
        int runs = 0;
        while (frames.take(wait).getTurn().size() > 1) { // the run in flight, then one per empty turn
          frames.send(turn(List.of()), wait);
          assertTrue(++runs < 10_000, "the stream ends within its budget");
        }
        // one more empty turn may have crossed the end in flight: answered, "ended" again
        frames.send(SyncFrame.newBuilder().setTurnBytes(empty.length).setTurn(ByteString.copyFrom(empty)).build(), wait);
        assertEquals(1, frames.take(wait).getTurn().size());
        frames.send(turn(List.of()), wait);
        SyncFailure cut = assertThrows(SyncFailure.class, () -> frames.take(wait));
        assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, cut.code(), cut.getMessage());
        assertTrue(cut.getMessage().contains("after the stream ended"), cut.getMessage());
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  private static SyncFrame turn(List<dev.capsulevm.host.sync.SyncMessage> messages) {
    byte[] bytes = dev.capsulevm.host.sync.SyncCodec.encodeTurn(messages);
    return SyncFrame.newBuilder().setTurnBytes(bytes.length).setTurn(ByteString.copyFrom(bytes)).build();
  }

  /** Waits for the error a stream ends with. */
  private static final class RecordingObserver implements StreamObserver<SyncFrame> {
    private final java.util.concurrent.CompletableFuture<Throwable> error = new java.util.concurrent.CompletableFuture<>();

    @Override
    public void onNext(SyncFrame value) {}

    @Override
    public void onError(Throwable t) {
      error.complete(t);
    }

    @Override
    public void onCompleted() {
      error.complete(null);
    }

    Throwable awaitError() throws Exception {
      return error.get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * A Sync responder that reconciles honestly over the ids of its records (so that the honest side asks
   * for them) and then lies in the bytes it sends, or sends garbage from the start, or answers the Hello
   * without its summary.
   */
  private static final class Liar implements AutoCloseable {
    private final Server server;
    private final dev.capsulevm.proofs.crypto.SigningKey key = dev.capsulevm.proofs.crypto.SigningKey.generate();

    Liar(CapsuleFixture capsule, List<RecordWithBody> records, String lie) throws Exception {
      Map<Hash, RecordWithBody> byId = new HashMap<>();
      List<RecordWithBody> served = new ArrayList<>(records);
      UnaryOperator<RecordWithBody> tamper = UnaryOperator.identity();
      switch (lie) {
        case "bad signature" -> tamper = CapsuleFixture::withBadSignature;
        case "tampered sub-record" -> tamper = r -> {
          List<byte[]> payloads = new ArrayList<>(r.payloads());
          byte[] first = payloads.get(0).clone();
          first[0] ^= 1;
          payloads.set(0, first);
          return new RecordWithBody(r.record(), payloads);
        };
        case "stranger" -> served.add(capsule.recordByStranger(List.of(records.get(records.size() - 1).hash()), "x"));
        case "orphan" -> { // a genuine record whose parent the liar never sends
          RecordWithBody withheld = capsule.record(List.of(records.get(records.size() - 1).hash()), "withheld", 1);
          served.add(capsule.record(List.of(withheld.hash()), "orphan", 1));
        }
        default -> { }
      }
      for (RecordWithBody r : served) {
        byId.put(r.hash(), r);
      }
      UnaryOperator<RecordWithBody> bytes = tamper;
      InMemoryDag dag = new InMemoryDag(capsule.id());
      for (RecordWithBody r : served) {
        List<Hash> parents = r.record().header().parents();
        if (lie.equals("wrong parents") && records.indexOf(r) >= 10) {
          parents = List.of(capsule.id()); // the entry names other parents than the header
        }
        dag.add(new SyncRecord(r.hash(), parents));
      }
      SyncGrpc.SyncImplBase service = new SyncGrpc.SyncImplBase() {
        @Override
        public StreamObserver<SyncFrame> session(StreamObserver<SyncFrame> responses) {
          ServerCallStreamObserver<SyncFrame> call = (ServerCallStreamObserver<SyncFrame>) responses;
          FrameChannel channel = new FrameChannel();
          channel.bind(call);
          Thread t = new Thread(() -> {
            try {
              // it proves its key honestly: the lies come after
              PeerHandshake.Answered answered = PeerHandshake.Opening.parse(channel.take(java.time.Duration.ofSeconds(10)))
                  .answer(key, PeerHandshake.ExchangeKey.generate(), channel, java.time.Duration.ofSeconds(10));
              if (answered == null) {
                return;
              }
              SyncFrame first = answered.first();
              if (lie.equals("garbage")) {
                Random random = new Random(1);
                while (true) { // endless: until the honest side cuts the stream
                  byte[] junk = new byte[64 << 10];
                  random.nextBytes(junk);
                  channel.send(SyncFrame.newBuilder().setTurnBytes(junk.length).setTurn(ByteString.copyFrom(junk))
                      .setMore(true).build(), java.time.Duration.ofSeconds(10));
                }
              }
              if (lie.equals("no summary")) { // an empty first turn: no nonce, so no session keys
                channel.send(turn(List.of()), java.time.Duration.ofSeconds(10));
                channel.take(java.time.Duration.ofSeconds(10)); // until the honest side ends the session
                return;
              }
              FakeReplica replica = new FakeReplica(dag, id -> bytes.apply(byId.get(id)));
              new SyncSession(channel, replica, new Reconciler(replica, Reconciler.Role.RESPONDER,
                  Reconciler.Config.DEFAULT, answered.pairSecret()), SyncSession.Limits.DEFAULT, p -> {}).respond(first,
                  SyncFrame.newBuilder());
            } catch (SyncFailure e) {
              channel.fail(e.status());
            }
          });
          t.setDaemon(true);
          t.start();
          return channel;
        }
      };
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(service).build()
          .start();
    }

    String address() {
      return "127.0.0.1:" + server.getPort();
    }

    dev.capsulevm.proofs.crypto.PublicKey key() {
      return key.publicKey();
    }

    @Override
    public void close() {
      server.shutdownNow();
      try {
        server.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** A replica that serves whatever bytes it is given and stores nothing. */
  private record FakeReplica(InMemoryDag dag, java.util.function.Function<Hash, RecordWithBody> bytes)
      implements SessionReplica {
    @Override
    public RecordWithBody recordOrNull(Hash id) {
      return bytes.apply(id);
    }

    @Override
    public void offer(RecordWithBody record) {}

    @Override
    public int flush() {
      return 0;
    }

    @Override
    public long committed() {
      return 0;
    }

    @Override
    public int staged() {
      return 0;
    }

    @Override
    public void close() {}

    @Override
    public Hash root() {
      return dag.root();
    }

    @Override
    public boolean contains(Hash id) {
      return dag.contains(id);
    }

    @Override
    public List<Hash> parents(Hash id) {
      return dag.parents(id);
    }

    @Override
    public List<Hash> heads() {
      return dag.heads();
    }

    @Override
    public long count() {
      return dag.count();
    }

    @Override
    public SetDigest digest() {
      return dag.digest();
    }

    @Override
    public void forEachId(Consumer<Hash> action) {
      dag.forEachId(action);
    }

    @Override
    public boolean add(SyncRecord record) {
      return dag.add(record);
    }
  }
}
