package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestTls;
import dev.capsulevm.host.tls.TlsIdentity;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.tls.ChannelSecurity;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The SDK over TLS: programs run against a host whose certificate it verifies; others are refused. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TlsTest {
  @TempDir static Path dir;
  private final TlsIdentity identity = TestTls.loopbackIdentity();
  private HostServer host;
  private ChannelSecurity trusted;

  @BeforeAll
  void start() throws Exception {
    host = HostServer.start(TestTls.config(dir.resolve("host"), identity));
    identity.write(dir.resolve("cert.pem"), dir.resolve("key.pem"));
    trusted = ChannelSecurity.trustingCa(dir.resolve("cert.pem"));
  }

  @AfterAll
  void stop() {
    host.close();
  }

  private String address() {
    return "127.0.0.1:" + host.port();
  }

  private String adminAddress() {
    return "127.0.0.1:" + host.adminPort();
  }

  @Test
  void aWriterAndAReaderRunTheirProgramsOverTls() throws Exception {
    SigningKey account = SigningKey.generate();
    try (AdminClient admin = AdminClient.connect(adminAddress(), host.adminToken(), Duration.ofSeconds(10), trusted)) {
      admin.fund(account.publicKey(), Amount.ofCap(100));
    }
    try (HostClient client = HostClient.connect(address(), account, RenterOptions.defaults().withSecurity(trusted))) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 16, 256, "over TLS");
      writer.append(client, List.of("hello".getBytes(StandardCharsets.UTF_8)));
      CapsuleReader reader = CapsuleReader.open(client, writer.capsuleId(), null, List.of());
      reader.refreshHeads();
      assertEquals(1, reader.highestHead().height(), "the reader verified the appended record as the head");
      assertTrue(client.balance().compareTo(Amount.ofCap(100)) < 0, "paid over TLS");
    }
    // pinning the certificate works as well as trusting it as a CA
    try (HostClient pinned = HostClient.connect(address(), account,
        RenterOptions.defaults().withSecurity(ChannelSecurity.pinning(List.of(identity.pin()))))) {
      assertEquals(host.hostKey(), pinned.priceTable().hostKey());
    }
  }

  @Test
  void aWrongCaOrPinIsAOneLineErrorAndIsNotRetried() throws Exception {
    TlsIdentity other = TestTls.loopbackIdentity();
    for (ChannelSecurity wrong : List.of(TestTls.trusting(other), ChannelSecurity.pinning(List.of(other.pin())))) {
      FakeScheduler scheduler = new FakeScheduler();
      try (HostClient client = HostClient.connect(address(), SigningKey.generate(),
          RenterOptions.defaults().withSecurity(wrong).withScheduler(scheduler))) {
        RenterException e = assertThrows(RenterException.class, client::priceTable);
        assertTrue(e.getMessage().startsWith("cannot fetch the price table: TLS handshake failed: "), e.getMessage());
        assertTrue(e.getMessage().contains("unable to find valid certification path")
            || e.getMessage().contains("matches no pinned certificate"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertEquals(List.of(), scheduler.sleeps, "a refused certificate is not retried");
      }
      try (AdminClient admin = AdminClient.connect(adminAddress(), host.adminToken(), Duration.ofSeconds(10), wrong)) {
        RenterException e = assertThrows(RenterException.class, admin::status);
        assertTrue(e.getMessage().startsWith("status failed: TLS handshake failed: "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
      }
    }
  }

  @Test
  void aPlaintextClientGetsAOneLineUnavailable() throws Exception {
    try (HostClient client = HostClient.connect(address(), SigningKey.generate(),
        RenterOptions.defaults().withRetries(RenterOptions.Retries.NONE))) {
      RenterException e = assertThrows(RenterException.class, client::priceTable);
      assertTrue(e.getMessage().startsWith("cannot fetch the price table: UNAVAILABLE"), e.getMessage());
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
  }
}
