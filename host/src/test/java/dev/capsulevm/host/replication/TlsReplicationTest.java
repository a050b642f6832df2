package dev.capsulevm.host.replication;

import static dev.capsulevm.host.replication.Replicas.assertConverged;
import static dev.capsulevm.host.replication.Replicas.chain;
import static dev.capsulevm.host.replication.Replicas.create;
import static dev.capsulevm.host.replication.Replicas.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestTls;
import dev.capsulevm.host.tls.TlsIdentity;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proto.tls.ChannelSecurity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sync sessions between hosts that serve TLS, each verifying the peer it dials. */
class TlsReplicationTest {
  @TempDir
  Path dir;

  @Test
  void twoTlsHostsReplicateEachTrustingTheOthersCertificate() throws Exception {
    TlsIdentity idA = TestTls.loopbackIdentity();
    TlsIdentity idB = TestTls.loopbackIdentity();
    // one CA file holding both self-signed certificates, as an operator would concatenate them
    Path ca = dir.resolve("peers.pem");
    idA.write(ca, dir.resolve("a.key"));
    Files.writeString(ca, Files.readString(ca) + pem(idB));
    ChannelSecurity peers = ChannelSecurity.trustingCa(ca);
    CapsuleFixture capsule = new CapsuleFixture("tls sync");
    try (HostServer a = HostServer.start(config(dir.resolve("a"), idA, peers));
        HostServer b = HostServer.start(config(dir.resolve("b"), idB, ChannelSecurity.pinning(List.of(idA.pin()))))) {
      create(a, capsule);
      put(a, chain(capsule, capsule.id(), 25, "a", 2));
      Replicator.SessionResult pulled = Replicas.sync(b, a, capsule.id());
      assertEquals(SyncOutcome.CONVERGED, pulled.outcome(), pulled.error());
      put(b, chain(capsule, b.storage().heads(capsule.id()).iterator().next(), 5, "b", 1));
      Replicator.SessionResult pushed = Replicas.sync(a, b, capsule.id());
      assertTrue(pushed.ok(), pushed.error());
      assertConverged(capsule.id(), a, b);
      assertEquals(30, b.storage().digest(capsule.id()).count());
    }
  }

  @Test
  void aPeerWhoseCertificateIsNotTrustedIsRefusedWithTheReason() throws Exception {
    TlsIdentity idA = TestTls.loopbackIdentity();
    TlsIdentity stranger = TestTls.loopbackIdentity();
    CapsuleFixture capsule = new CapsuleFixture("tls sync refused");
    try (HostServer a = HostServer.start(config(dir.resolve("a"), idA, ChannelSecurity.plaintext()));
        HostServer b = HostServer.start(config(dir.resolve("b"), stranger,
            ChannelSecurity.pinning(List.of(stranger.pin()))));
        HostServer plain = HostServer.start(Replicas.config(dir.resolve("c")))) {
      create(a, capsule);
      put(a, chain(capsule, capsule.id(), 3, "a", 1));
      Replicator.SessionResult refused = Replicas.sync(b, a, capsule.id());
      assertFalse(refused.ok());
      assertTrue(refused.error().contains("TLS handshake failed: the host's certificate (SHA-256 " + idA.pin()
          + ") matches no pinned certificate"), refused.error());
      // a plaintext host dialling a TLS peer is refused too, and nothing was copied either way
      Replicator.SessionResult plaintext = Replicas.sync(plain, a, capsule.id());
      assertFalse(plaintext.ok(), plaintext.error());
      assertTrue(b.storage().capsuleIds().isEmpty());
      assertTrue(plain.storage().capsuleIds().isEmpty());
    }
  }

  private static HostConfig config(Path dir, TlsIdentity identity, ChannelSecurity peers) {
    return Replicas.config(dir).withTls(identity)
        .withReplication(Replicas.config(dir).replication().withPeerSecurity(peers));
  }

  private static String pem(TlsIdentity identity) throws Exception {
    return "-----BEGIN CERTIFICATE-----\n"
        + java.util.Base64.getMimeEncoder(64, "\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
            .encodeToString(identity.certificate().getEncoded())
        + "\n-----END CERTIFICATE-----\n";
  }
}
