package dev.capsulevm.cli;

import dev.capsulevm.host.daemon.OneLine;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.RenterOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/** Where the local daemon's Admin service listens and how to prove the operator: the admin token. */
final class AdminArgs {
  @Option(names = "--admin", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:7421",
      description = "The host's admin endpoint (default: ${DEFAULT-VALUE}).")
  String admin;

  @Option(names = "--token", paramLabel = "TOKEN", description = "The admin token.")
  @Nullable String token;

  @Option(names = "--token-file", paramLabel = "FILE", defaultValue = "capsulevm-data/admin.token",
      description = "A file holding the admin token (default: ${DEFAULT-VALUE}, in the host's data directory).")
  Path tokenFile;

  /** A client of {@code --admin} with {@code token}, over TLS as {@code tls} says. */
  AdminClient connect(String token, ClientTlsArgs tls) throws IOException {
    return AdminClient.connect(admin, token, RenterOptions.Deadlines.DEFAULT.call(), tls.security());
  }

  /** The token given, else the token file's content. */
  String token() throws IOException {
    if (token != null) {
      return token;
    }
    try {
      return Files.readString(tokenFile).strip();
    } catch (IOException e) {
      throw new IOException("cannot read the admin token (--token-file, or give --token): " + OneLine.of(e), e);
    }
  }
}
