package dev.capsulevm.bench.runner;

import dev.capsulevm.bench.TempDirectories;
import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.RenterOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A host on ephemeral loopback ports in a temporary data directory (LMDB, synced commits, as the daemon
 * runs by default) and renter clients, each with its own funded account; everything is removed on close.
 */
final class InProcessHost implements AutoCloseable {
  private final Path dir;
  private final HostServer host;
  final List<HostClient> clients = new ArrayList<>();
  /** The account key of each client, in the same order. */
  final List<SigningKey> accounts = new ArrayList<>();

  InProcessHost(int clientCount) throws Exception {
    // The per-account rate limit (default 500 programs a second, a burst of 1,000) is the host's fairness
    // policy, not what these experiments measure: under it one client's single reads stop near 750/s.
    this(clientCount, config -> config.withRate(1_000_000, 1_000_000));
  }

  /** A host whose default configuration {@code tune} changes. */
  InProcessHost(int clientCount, UnaryOperator<HostConfig> tune) throws Exception {
    dir = Files.createTempDirectory("capsulevm-bench");
    host = HostServer.start(tune.apply(HostConfig.defaults(dir).withPorts(0, 0).withMetricsPort(-1)));
    try (AdminClient admin = AdminClient.connect("127.0.0.1:" + host.adminPort(), host.adminToken())) {
      for (int i = 0; i < clientCount; i++) {
        SigningKey account = SigningKey.generate();
        admin.fund(account.publicKey(), Amount.ofCap(1_000_000));
        accounts.add(account);
        clients.add(HostClient.connect(address(), account, RenterOptions.defaults()));
      }
    }
  }

  /** A further client with {@code options}, its account {@code account} funded like the others'. */
  HostClient client(SigningKey account, RenterOptions options) throws Exception {
    try (AdminClient admin = AdminClient.connect("127.0.0.1:" + host.adminPort(), host.adminToken())) {
      admin.fund(account.publicKey(), Amount.ofCap(1_000_000));
    }
    return HostClient.connect(address(), account, options);
  }

  /** Programs the host runs now (its Admin status). */
  long programsRunning() throws Exception {
    try (AdminClient admin = AdminClient.connect("127.0.0.1:" + host.adminPort(), host.adminToken())) {
      return admin.status().getProgramsRunning();
    }
  }

  /**
   * The write transactions the host's store has committed for batches so far (records and settlements,
   * group-committed): compared with the programs run, what group commit saves.
   */
  long transactions() {
    return ((LmdbCapsuleStorage) host.storage()).commitCounts()[0];
  }

  /** The Host service's address. */
  String address() {
    return "127.0.0.1:" + host.port();
  }

  @Override
  public void close() {
    for (HostClient client : clients) {
      client.close();
    }
    host.close();
    TempDirectories.delete(dir);
  }

  /** {@code count} payloads of {@code bytes} bytes, each distinct. */
  static List<byte[]> payloads(int count, int bytes) {
    List<byte[]> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      byte[] payload = new byte[bytes];
      for (int b = 0; b < Math.min(bytes, 4); b++) {
        payload[b] = (byte) (i >>> (8 * b));
      }
      out.add(payload);
    }
    return out;
  }
}
