package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.concat;
import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestHost;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A real host in-process and one renter state directory per named renter beside it, for CLI tests in
 * which several renters (a creator, its members) share a capsule. {@link #close} stops the host and
 * deletes everything.
 */
final class RenterStatesOnHost implements AutoCloseable {
  final Path dir;
  final HostServer host;

  RenterStatesOnHost(String prefix) throws IOException {
    dir = Files.createTempDirectory(prefix);
    host = HostServer.start(TestHost.config(dir.resolve("host")));
  }

  /** The state directory of renter {@code who}. */
  Path state(String who) {
    return dir.resolve(who);
  }

  /** The CLI as renter {@code who}: its state, against this host. */
  Result as(String who, String... args) {
    return run(concat(args, "--host", "127.0.0.1:" + host.port(), "--state", state(who).toString()));
  }

  /** Funds renter {@code who}'s account with 500 CAP through the admin port. */
  void fund(String who) {
    Result fund = as(who, "account", "fund", "--amount", "500000000", "--admin", "127.0.0.1:" + host.adminPort(),
        "--token", host.adminToken(), "--json");
    assertEquals(0, fund.exitCode(), fund.err());
  }

  @Override
  public void close() throws IOException {
    host.close();
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
