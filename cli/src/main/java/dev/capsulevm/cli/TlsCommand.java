package dev.capsulevm.cli;

import dev.capsulevm.host.tls.SelfSignedCertificate;
import dev.capsulevm.host.tls.TlsIdentity;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code capsulevm tls}: certificates for the host's TLS. */
@Command(
    name = "tls",
    mixinStandardHelpOptions = true,
    description = "TLS certificates for hosts (capsulevm host --tls-cert/--tls-key) and their clients (--tls-ca).",
    subcommands = {TlsCommand.SelfSigned.class})
final class TlsCommand {
  /** {@code tls self-signed --out DIR [--host NAME]... [--days N]}. */
  @Command(
      name = "self-signed",
      mixinStandardHelpOptions = true,
      description = {"Writes a new self-signed certificate (DIR/cert.pem) and its private key (DIR/key.pem, mode 0600)"
          + " for a test network; never overwrites.",
          "The host serves it with --tls-cert DIR/cert.pem --tls-key DIR/key.pem; clients trust it with"
          + " --tls-ca DIR/cert.pem (or pin it with --tls-pin and the printed fingerprint)."})
  static final class SelfSigned implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR",
        description = "Where to write cert.pem and key.pem (made if missing).")
    Path out;

    @Option(names = "--host", paramLabel = "NAME", description = "A DNS name or IP address clients dial the host by;"
        + " repeat for several (default: localhost, 127.0.0.1 and ::1).")
    List<String> hosts;

    @Option(names = "--days", defaultValue = "365", description = "Days the certificate is valid (default: ${DEFAULT-VALUE}).")
    int days;

    @Override
    public Integer call() throws IOException {
      List<String> names = hosts == null || hosts.isEmpty() ? SelfSignedCertificate.LOOPBACK_NAMES : hosts;
      if (days < 1) {
        throw Args.usage(spec, "--days must be at least 1, got " + days);
      }
      TlsIdentity identity;
      try {
        identity = SelfSignedCertificate.generate(names, Duration.ofDays(days), Clock.systemUTC());
      } catch (IllegalArgumentException e) {
        throw Args.usage(spec, "--host: " + e.getMessage());
      }
      Path cert = out.resolve("cert.pem");
      Path key = out.resolve("key.pem");
      for (Path file : List.of(cert, key)) {
        if (Files.exists(file)) {
          throw Args.usage(spec, file + " exists; refusing to overwrite (choose another --out)");
        }
      }
      if (!Files.isDirectory(out)) {
        try {
          Files.createDirectories(out, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
          Files.createDirectories(out);
        }
      }
      try {
        identity.write(cert, key);
      } catch (FileAlreadyExistsException e) {
        throw Args.usage(spec, e.getFile() + " exists; refusing to overwrite (choose another --out)");
      }
      System.out.println("certificate " + cert + " (for " + String.join(", ", names) + "; valid until "
          + identity.certificate().getNotAfter().toInstant() + ")");
      System.out.println("key         " + key + " (mode 0600)");
      System.out.println("sha256      " + identity.pin());
      System.out.println("host:    capsulevm host --tls-cert " + cert + " --tls-key " + key);
      System.out.println("clients: --tls-ca " + cert + "   or   --tls-pin " + identity.pin());
      return 0;
    }
  }
}
