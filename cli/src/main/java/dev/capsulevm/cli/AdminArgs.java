package dev.capsulevm.cli;

import dev.capsulevm.host.daemon.OneLine;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.RenterOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * Where the local daemon's Admin service listens and how to prove the operator: the admin token. A flag
 * not given falls back to the renter config ({@link RenterConfig}: {@code CAPSULEVM_ADMIN},
 * {@code CAPSULEVM_TOKEN_FILE}, or the file's {@code admin} and {@code token-file}), then to the default.
 */
final class AdminArgs {
  /** The admin endpoint when neither {@code --admin} nor the config names one. */
  static final String DEFAULT_ADMIN = "127.0.0.1:7421";
  /** The token file when neither {@code --token-file} nor the config names one. */
  static final Path DEFAULT_TOKEN_FILE = Path.of("capsulevm-data", "admin.token");

  @Option(names = "--admin", paramLabel = "HOST:PORT",
      description = "The host's admin endpoint (default: $CAPSULEVM_ADMIN or the config's admin, else " + DEFAULT_ADMIN + ").")
  @Nullable String admin;

  @Option(names = "--token", paramLabel = "TOKEN", description = "The admin token.")
  @Nullable String token;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "A file holding the admin token (default: $CAPSULEVM_TOKEN_FILE or the config's token-file, else"
          + " capsulevm-data/admin.token, in the host's data directory).")
  @Nullable Path tokenFile;

  /** {@code --admin}, else the config's, else {@value #DEFAULT_ADMIN}. */
  String address() {
    if (admin != null) {
      return admin;
    }
    String configured = RenterConfig.current().adminOrNull();
    return configured != null ? configured : DEFAULT_ADMIN;
  }

  /** A client of the admin endpoint with {@code token}, over TLS as {@code tls} says. */
  AdminClient connect(String token, ClientTlsArgs tls) throws IOException {
    return AdminClient.connect(address(), token, RenterOptions.Deadlines.DEFAULT.call(), tls.security());
  }

  /** The token given, else the token file's content. */
  String token() throws IOException {
    if (token != null) {
      return token;
    }
    Path file = tokenFile;
    if (file == null) {
      Path configured = RenterConfig.current().tokenFileOrNull();
      file = configured != null ? configured : DEFAULT_TOKEN_FILE;
    }
    try {
      return Files.readString(file).strip();
    } catch (IOException e) {
      throw new IOException("cannot read the admin token (--token-file, or give --token): " + OneLine.of(e), e);
    }
  }
}
