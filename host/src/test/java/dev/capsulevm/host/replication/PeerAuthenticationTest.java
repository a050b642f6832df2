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
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.PeerProof;
import dev.capsulevm.proto.v1.SyncFrame;
import dev.capsulevm.proto.v1.SyncGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hosts prove their host keys to each other in every session (docs/PROTOCOL.md "Peer proofs"): a pinned
 * key is enforced, a signature that does not prove the key presented ends the session on either side,
 * and a capsule's allow list decides which proven keys may sync it.
 */
class PeerAuthenticationTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir
  Path dir;

  @Test
  void bothSidesProveTheirKeysAndAPinnedKeyIsEnforced() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("pinned");
    try (HostServer a = Replicas.start(dir.resolve("a"));
        HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, capsule);
      put(a, chain(capsule, capsule.id(), 12, "r", 1));
      PublicKey stranger = SigningKey.generate().publicKey();

      SortedMap<String, SortedMap<String, String>> before = dump(b);
      Replicator.SessionResult wrong = b.replicator().syncNow(stranger.toHex() + "@" + Replicas.address(a),
          capsule.id(), Replicator.ProgressListener.NONE).get(0);
      assertEquals(SyncOutcome.REFUSED, wrong.outcome(), wrong.error());
      assertTrue(wrong.error().contains("presented host key " + a.hostKey().toHex())
          && wrong.error().contains("not its pinned key " + stranger.toHex()), wrong.error());
      assertEquals(a.hostKey(), wrong.peerKey());
      assertEquals(before, dump(b), "nothing moved");
      Replicator.PeerState state = b.replicator().peers().get(0);
      assertNotNull(state.backoffUntil(), "a peer presenting another key is backed off: " + state);

      Replicator.SessionResult pinned = b.replicator().syncNow(a.hostKey().toHex() + "@" + Replicas.address(a),
          capsule.id(), Replicator.ProgressListener.NONE).get(0);
      assertEquals(SyncOutcome.CONVERGED, pinned.outcome(), pinned.error());
      assertEquals(a.hostKey(), pinned.peerKey());
      assertConverged(capsule.id(), a, b);
    }
  }

  @Test
  void aConfiguredPeerIsHeldToItsPinnedKey() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("configured pin");
    try (HostServer a = Replicas.start(dir.resolve("a"))) {
      create(a, capsule);
      put(a, chain(capsule, capsule.id(), 3, "r", 1));
      PublicKey stranger = SigningKey.generate().publicKey();
      Replicator.Peer peer = Replicator.Peer.parse(stranger.toHex() + "@" + Replicas.address(a));
      try (HostServer b = HostServer.start(Replicas.config(dir.resolve("b"))
          .withReplication(Replicas.config(dir).replication().withPeers(List.of(peer))))) {
        Replicator.SessionResult result = sync(b, a, capsule.id());
        assertEquals(SyncOutcome.REFUSED, result.outcome(), result.error());
        assertFalse(b.storage().hasCapsule(capsule.id()));
      }
    }
  }

  /** An initiator claiming b's key but signing with another is refused, and b is not held to it. */
  @Test
  void anInitiatorThatCannotSignForTheKeyItClaimsIsRefused() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("impostor");
    try (HostServer a = Replicas.start(dir.resolve("a"));
        HostServer b = Replicas.start(dir.resolve("b"))) {
      create(a, capsule);
      put(a, chain(capsule, capsule.id(), 5, "r", 1));
      ManagedChannel channel = ManagedChannelBuilder.forTarget(Replicas.address(a)).usePlaintext().build();
      try {
        FrameChannel frames = new FrameChannel();
        SyncGrpc.newStub(channel).session(frames);
        byte[] nonce = new byte[PeerHandshake.NONCE_BYTES];
        byte[] exchange = PeerHandshake.ExchangeKey.generate().publicKey();
        frames.send(SyncFrame.newBuilder().setProof(PeerProof.newBuilder()
            .setHostKey(ByteString.copyFrom(b.hostKey().toByteArray())).setNonce(ByteString.copyFrom(nonce))
            .setCapsule(ByteString.copyFrom(capsule.id().toByteArray())).setExchangeKey(ByteString.copyFrom(exchange)))
            .build(), WAIT);
        PeerProof answer = java.util.Objects.requireNonNull(frames.take(WAIT)).getProof();
        assertEquals(a.hostKey(), PublicKey.copyOf(answer.getHostKey().toByteArray()));
        SigningKey impostor = SigningKey.generate();
        var forged = PeerHandshake.sign(impostor, PeerHandshake.INITIATOR, capsule.id(), nonce,
            answer.getNonce().toByteArray(), b.hostKey(), a.hostKey(), exchange, answer.getExchangeKey().toByteArray());
        frames.send(SyncFrame.newBuilder().setProof(PeerProof.newBuilder()
            .setSignature(ByteString.copyFrom(forged.toByteArray()))).setTurnBytes(1)
            .setTurn(ByteString.copyFrom(new byte[1])).build(), WAIT);
        SyncFailure refused = assertThrows(SyncFailure.class, () -> frames.take(WAIT));
        assertEquals(Status.Code.UNAUTHENTICATED, refused.code(), refused.getMessage());
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      assertTrue(a.replicator().peers().isEmpty(), "an unproven key is held against nobody");
      Replicator.SessionResult real = sync(b, a, capsule.id());
      assertEquals(SyncOutcome.CONVERGED, real.outcome(), real.error());
    }
  }

  /** A responder presenting a key it cannot sign for ends the session as misbehaviour. */
  @Test
  void aResponderThatCannotSignForItsKeyFails() throws Exception {
    CapsuleFixture capsule = new CapsuleFixture("false responder");
    PublicKey claimed = SigningKey.generate().publicKey();
    SigningKey signer = SigningKey.generate();
    SyncGrpc.SyncImplBase service = new SyncGrpc.SyncImplBase() {
      @Override
      public StreamObserver<SyncFrame> session(StreamObserver<SyncFrame> responses) {
        FrameChannel channel = new FrameChannel();
        channel.bind((ServerCallStreamObserver<SyncFrame>) responses);
        Thread t = new Thread(() -> {
          try {
            PeerHandshake.Opening opening = PeerHandshake.Opening.parse(
                java.util.Objects.requireNonNull(channel.take(WAIT)));
            byte[] nonce = new byte[PeerHandshake.NONCE_BYTES];
            byte[] exchange = PeerHandshake.ExchangeKey.generate().publicKey();
            var signature = PeerHandshake.sign(signer, PeerHandshake.RESPONDER, opening.capsule(), opening.nonce(),
                nonce, opening.initiator(), claimed, opening.exchangeKey(), exchange);
            channel.send(SyncFrame.newBuilder().setProof(PeerProof.newBuilder()
                .setHostKey(ByteString.copyFrom(claimed.toByteArray())).setNonce(ByteString.copyFrom(nonce))
                .setSignature(ByteString.copyFrom(signature.toByteArray()))
                .setExchangeKey(ByteString.copyFrom(exchange))).build(), WAIT);
            channel.take(WAIT); // until the initiator ends the session
          } catch (SyncFailure e) {
            channel.fail(e.status());
          }
        });
        t.setDaemon(true);
        t.start();
        return channel;
      }
    };
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(service).build()
        .start();
    try (HostServer a = Replicas.start(dir.resolve("a"))) {
      create(a, capsule);
      Replicator.SessionResult result = a.replicator().syncNow("127.0.0.1:" + server.getPort(), capsule.id(),
          Replicator.ProgressListener.NONE).get(0);
      assertEquals(SyncOutcome.FAILED, result.outcome());
      assertTrue(result.error().contains("does not prove host key " + claimed.toHex()), result.error());
      assertNull(result.peerKey(), "nothing was proven");
    } finally {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /**
   * a lets only b sync capsule "restricted": b pulls it, c is refused (and not backed off for it); c still
   * pulls the capsule that is not listed, and a refuses to open a session for the restricted capsule with c.
   */
  @Test
  void aCapsulesAllowListDecidesWhichPeersMaySyncIt() throws Exception {
    CapsuleFixture restricted = new CapsuleFixture("restricted");
    CapsuleFixture open = new CapsuleFixture("open");
    try (HostServer b = Replicas.start(dir.resolve("b"));
        HostServer c = Replicas.start(dir.resolve("c"))) {
      Map<Hash, Set<PublicKey>> allowed = Map.of(restricted.id(), Set.of(b.hostKey()));
      try (HostServer a = HostServer.start(Replicas.config(dir.resolve("a"))
          .withReplication(Replicas.config(dir).replication().withAllowedPeers(allowed)))) {
        for (CapsuleFixture capsule : List.of(restricted, open)) {
          create(a, capsule);
          put(a, chain(capsule, capsule.id(), 8, "r", 1));
        }
        Replicator.SessionResult allowedPull = sync(b, a, restricted.id());
        assertEquals(SyncOutcome.CONVERGED, allowedPull.outcome(), allowedPull.error());
        assertConverged(restricted.id(), a, b);

        Replicator.SessionResult refused = sync(c, a, restricted.id());
        assertEquals(SyncOutcome.REFUSED, refused.outcome(), refused.error());
        assertTrue(refused.error().contains("PERMISSION_DENIED")
            && refused.error().contains(c.hostKey().toHex()), refused.error());
        assertTrue(refused.capsuleSkipped(), "an allow list is no fault of the peer's");
        assertFalse(c.storage().hasCapsule(restricted.id()), "c got nothing of it");
        assertNull(c.replicator().peers().get(0).backoffUntil(), "c does not back a off for it");

        Replicator.SessionResult other = sync(c, a, open.id());
        assertEquals(SyncOutcome.CONVERGED, other.outcome(), other.error());

        // the other way round: a does not offer the restricted capsule to c either
        create(c, restricted);
        SortedMap<String, SortedMap<String, String>> before = dump(c);
        Replicator.SessionResult push = sync(a, c, restricted.id());
        assertEquals(SyncOutcome.REFUSED, push.outcome(), push.error());
        assertTrue(push.error().contains("may not sync capsule " + restricted.id()), push.error());
        assertEquals(before, dump(c), "nothing moved to c");
      }
    }
  }
}
