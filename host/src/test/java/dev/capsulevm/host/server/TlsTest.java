package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.daemon.HostCommand;
import dev.capsulevm.host.tls.SelfSignedCertificate;
import dev.capsulevm.host.tls.TlsIdentity;
import dev.capsulevm.proto.tls.CertificatePin;
import dev.capsulevm.proto.tls.ChannelSecurity;
import dev.capsulevm.proto.v1.AdminGrpc;
import dev.capsulevm.proto.v1.GetPriceTableRequest;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.StatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Real TLS handshakes on loopback: the host presents its certificate on every port; clients verify it. */
class TlsTest {
  private static final TlsIdentity IDENTITY = TestTls.loopbackIdentity();

  @TempDir
  Path dir;

  @Test
  void clientsTrustingTheCertificateReachTheHostAdminAndMetricsPorts() throws Exception {
    try (HostServer host = HostServer.start(TestTls.config(dir, IDENTITY).withMetricsPort(0))) {
      for (String name : List.of("127.0.0.1", "localhost")) {
        call(name + ":" + host.port(), TestTls.trusting(IDENTITY),
            c -> HostGrpc.newBlockingStub(c).getPriceTable(GetPriceTableRequest.getDefaultInstance()));
      }
      call("127.0.0.1:" + host.adminPort(), TestTls.trusting(IDENTITY), c -> AdminGrpc.newBlockingStub(c)
          .withInterceptors(TestHost.bearer(host.adminToken())).status(StatusRequest.getDefaultInstance()));

      HttpClient https = HttpClient.newBuilder().sslContext(trustingContext(IDENTITY)).build();
      HttpResponse<String> metrics = https.send(HttpRequest.newBuilder(
          URI.create("https://127.0.0.1:" + host.metricsPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, metrics.statusCode());
      assertTrue(metrics.body().contains("capsulevm_programs"), metrics.body());
    }
  }

  @Test
  void aPinnedCertificateIsAcceptedWhateverItsNames() throws Exception {
    TlsIdentity elsewhere = SelfSignedCertificate.generate(List.of("host.example"), Duration.ofDays(1),
        Clock.systemUTC());
    try (HostServer host = HostServer.start(TestTls.config(dir, elsewhere))) {
      ChannelSecurity pinned = ChannelSecurity.pinning(List.of(CertificatePin.parse(
          colons(elsewhere.pin().toString().toUpperCase(java.util.Locale.ROOT)))));
      call("127.0.0.1:" + host.port(), pinned,
          c -> HostGrpc.newBlockingStub(c).getPriceTable(GetPriceTableRequest.getDefaultInstance()));
    }
  }

  @Test
  void aWrongCaAWrongPinAWrongNameAndPlaintextAreRefusedWithTheReason() throws Exception {
    TlsIdentity other = TestTls.loopbackIdentity();
    TlsIdentity named = SelfSignedCertificate.generate(List.of("host.example"), Duration.ofDays(1), Clock.systemUTC());
    try (HostServer host = HostServer.start(TestTls.config(dir.resolve("a"), IDENTITY));
        HostServer misnamed = HostServer.start(TestTls.config(dir.resolve("b"), named))) {
      String target = "127.0.0.1:" + host.port();
      assertRefused(target, TestTls.trusting(other), "unable to find valid certification path");
      assertRefused(target, ChannelSecurity.pinning(List.of(other.pin())),
          "the host's certificate (SHA-256 " + IDENTITY.pin() + ") matches no pinned certificate");
      assertRefused("127.0.0.1:" + misnamed.port(), TestTls.trusting(named), "127.0.0.1");

      StatusRuntimeException plaintext = assertThrows(StatusRuntimeException.class,
          () -> call(target, ChannelSecurity.plaintext(),
              c -> HostGrpc.newBlockingStub(c).getPriceTable(GetPriceTableRequest.getDefaultInstance())));
      assertEquals(Status.Code.UNAVAILABLE, plaintext.getStatus().getCode(), plaintext.toString());
      // the host still serves a client that trusts it
      call(target, TestTls.trusting(IDENTITY),
          c -> HostGrpc.newBlockingStub(c).getPriceTable(GetPriceTableRequest.getDefaultInstance()));
    }
  }

  @Test
  void aTlsClientIsRefusedByAPlaintextHost() throws Exception {
    try (HostServer host = HostServer.start(TestHost.config(dir))) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> call("127.0.0.1:" + host.port(), TestTls.trusting(IDENTITY),
              c -> HostGrpc.newBlockingStub(c).getPriceTable(GetPriceTableRequest.getDefaultInstance())));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
      assertEquals("TLS handshake failed: the other side does not speak TLS (a plaintext port?)",
          ChannelSecurity.handshakeFailure(e), e.toString());
    }
  }

  @Test
  void anAdminServiceBeyondLoopbackWithoutTlsIsRefusedChangingNothing() throws Exception {
    Path data = dir.resolve("data");
    for (String address : List.of("0.0.0.0", "::")) {
      HostConfig exposed = TestHost.config(data).withAddresses("127.0.0.1", address, "127.0.0.1");
      InsecureAdminException e = assertThrows(InsecureAdminException.class, () -> HostServer.start(exposed));
      assertTrue(e.getMessage().contains(address) && e.getMessage().contains("--tls-cert"), e.getMessage());
      assertFalse(Files.exists(data), "nothing made");
    }
    // loopback under another name is fine, and so is a non-loopback admin address with TLS (checked only)
    HostServer.refuseExposedAdmin(TestHost.config(data).withAddresses("127.0.0.1", "localhost", "127.0.0.1"));
    HostServer.refuseExposedAdmin(TestTls.config(data, IDENTITY).withAddresses("127.0.0.1", "0.0.0.0", "127.0.0.1"));

    StringWriter err = new StringWriter();
    int exit = new CommandLine(new HostCommand()).setErr(new PrintWriter(err)).execute("--data-dir", data.toString(),
        "--port", "0", "--admin-port", "0", "--metrics-port", "-1", "--admin-address", "0.0.0.0");
    assertEquals(HostCommand.EXIT_INSECURE_ADMIN, exit);
    assertEquals(1, err.toString().strip().lines().count(), err.toString());
    assertTrue(err.toString().contains("only with TLS"), err.toString());
    assertFalse(Files.exists(data), "nothing made");
  }

  @Test
  void healthNamesEveryServiceOnEachPort() throws Exception {
    try (HostServer host = HostServer.start(TestHost.config(dir))) {
      ManagedChannel main = TestTls.channel("127.0.0.1:" + host.port(), ChannelSecurity.plaintext());
      ManagedChannel admin = TestTls.channel("127.0.0.1:" + host.adminPort(), ChannelSecurity.plaintext());
      try {
        for (String service : List.of("", "capsulevm.v1.Host", "capsulevm.v1.Sync")) {
          assertEquals(ServingStatus.SERVING, health(main, service), service);
        }
        for (String service : List.of("", "capsulevm.v1.Admin")) {
          assertEquals(ServingStatus.SERVING, health(admin, service), service);
        }
        StatusRuntimeException notHere = assertThrows(StatusRuntimeException.class,
            () -> health(admin, "capsulevm.v1.Host"));
        assertEquals(Status.Code.NOT_FOUND, notHere.getStatus().getCode());
        assertEquals(List.of("capsulevm.v1.Host", "capsulevm.v1.Sync", "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"),
            Reflection.servicesV1(main));
        assertEquals(Reflection.servicesV1(main), Reflection.servicesV1Alpha(main));
        assertTrue(Reflection.servicesV1Alpha(admin).contains("capsulevm.v1.Admin"));
      } finally {
        main.shutdownNow();
        admin.shutdownNow();
      }
    }
  }

  private static ServingStatus health(ManagedChannel channel, String service) {
    return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
  }

  private static void assertRefused(String target, ChannelSecurity security, String reason) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> call(target, security,
            c -> HostGrpc.newBlockingStub(c).getPriceTable(GetPriceTableRequest.getDefaultInstance())));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
    String failure = ChannelSecurity.handshakeFailure(e);
    assertNotNull(failure, e.toString());
    assertTrue(failure.startsWith("TLS handshake failed: ") && failure.contains(reason), failure);
    assertFalse(failure.contains("\n"), failure);
  }

  private static <T> T call(String target, ChannelSecurity security, Function<ManagedChannel, T> rpc) {
    ManagedChannel channel = TestTls.channel(target, security);
    try {
      T result = rpc.apply(channel);
      assertNotNull(result);
      return result;
    } finally {
      channel.shutdownNow();
    }
  }

  private static String colons(String hex) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < hex.length(); i += 2) {
      out.append(i == 0 ? "" : ":").append(hex, i, i + 2);
    }
    return out.toString();
  }

  private static SSLContext trustingContext(TlsIdentity identity) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setCertificateEntry("host", identity.certificate());
    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, trust.getTrustManagers(), null);
    return context;
  }

  @Test
  void noHandshakeFailureInAnOrdinaryError() {
    assertNull(ChannelSecurity.handshakeFailure(Status.UNAVAILABLE.withDescription("down").asRuntimeException()));
  }
}
