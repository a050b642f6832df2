package dev.capsulevm.renter;

import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.SigningKey;
import io.grpc.ClientInterceptor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** A real host in-process on ephemeral loopback ports, with a temporary data directory. */
final class TestHost implements AutoCloseable {
  final Path dir;
  final HostServer server;

  TestHost() throws IOException {
    dir = Files.createTempDirectory("capsulevm-renter-test");
    server = HostServer.start(HostConfig.defaults(dir).withPorts(0, 0).withMetricsPort(-1));
  }

  String address() {
    return "127.0.0.1:" + server.port();
  }

  /** The host's signing key, read from its data directory (tests re-sign tampered receipts with it). */
  SigningKey hostKey() throws IOException {
    return KeyFile.read(dir.resolve(HostServer.HOST_KEY_FILE));
  }

  /** A client for a new account funded with {@code cap} CAP. */
  HostClient fundedClient(long cap, ClientInterceptor... interceptors) throws RenterException {
    SigningKey account = SigningKey.generate();
    fund(account, cap);
    return HostClient.connect(address(), account, RenterOptions.defaults().withInterceptors(List.of(interceptors)));
  }

  void fund(SigningKey account, long cap) throws RenterException {
    try (AdminClient admin = AdminClient.connect("127.0.0.1:" + server.adminPort(), server.adminToken())) {
      admin.fund(account.publicKey(), Amount.ofCap(cap));
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
