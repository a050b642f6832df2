package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.host.tls.TlsIdentity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tls self-signed}, then a host serving that pair and renter and admin commands that trust it. */
class TlsCommandsTest {
  @TempDir
  Path dir;

  @Test
  void aSelfSignedPairServesAHostThatTheCommandsReachOverTls() throws Exception {
    Path certs = dir.resolve("certs");
    Result made = run("tls", "self-signed", "--out", certs.toString());
    assertEquals(0, made.exitCode(), made.err());
    Path cert = certs.resolve("cert.pem");
    Path key = certs.resolve("key.pem");
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
    TlsIdentity identity = TlsIdentity.load(cert, key);
    assertTrue(made.out().contains(identity.pin().toString()), made.out());
    Result again = run("tls", "self-signed", "--out", certs.toString());
    assertEquals(Main.EXIT_USAGE, again.exitCode());
    assertTrue(again.err().contains("exists; refusing to overwrite"), again.err());
    assertEquals(identity.certificate(), TlsIdentity.load(cert, key).certificate(), "unchanged");

    Path other = dir.resolve("other");
    assertEquals(0, run("tls", "self-signed", "--out", other.toString(), "--host", "host.example").exitCode());

    try (HostServer host = HostServer.start(TestHost.config(dir.resolve("host")).withTls(identity))) {
      String state = dir.resolve("renter").toString();
      String hostAddress = "127.0.0.1:" + host.port();
      String admin = "127.0.0.1:" + host.adminPort();
      Result fund = run("account", "fund", "--amount", "100000000", "--admin", admin, "--token", host.adminToken(),
          "--state", state, "--tls-ca", cert.toString());
      assertEquals(0, fund.exitCode(), fund.err());
      Result create = run("capsule", "create", "--host", hostAddress, "--state", state, "--tls-ca", cert.toString());
      assertEquals(0, create.exitCode(), create.err());
      Result pinned = run("capsule", "create", "--host", "localhost:" + host.port(), "--state", state,
          "--tls-pin", identity.pin().toString());
      assertEquals(0, pinned.exitCode(), pinned.err());
      Result status = run("host", "status", "--admin", admin, "--token", host.adminToken(), "--tls-ca", cert.toString());
      assertEquals(0, status.exitCode(), status.err());

      for (List<String> wrong : List.of(List.of("--tls-ca", other.resolve("cert.pem").toString()),
          List.of("--tls-pin", TlsIdentity.load(other.resolve("cert.pem"), other.resolve("key.pem")).pin().toString()))) {
        Result refused = run(concat(List.of("capsule", "create", "--host", hostAddress, "--state", state), wrong));
        assertEquals(1, refused.exitCode(), refused.err());
        assertTrue(refused.err().startsWith("capsulevm: cannot fetch the price table: TLS handshake failed: "),
            refused.err());
        assertEquals(1, refused.err().strip().lines().count(), refused.err());
      }
      Result both = run("capsule", "create", "--host", hostAddress, "--state", state, "--tls-ca", cert.toString(),
          "--tls-pin", identity.pin().toString());
      assertEquals(Main.EXIT_USAGE, both.exitCode(), both.err());
      assertTrue(both.err().contains("mutually exclusive"), both.err());
      Result plaintext = run("capsule", "create", "--host", hostAddress, "--state", state);
      assertEquals(1, plaintext.exitCode());
      assertFalse(plaintext.err().contains("\tat "), plaintext.err());
    }
  }

  private static String[] concat(List<String> a, List<String> b) {
    return java.util.stream.Stream.concat(a.stream(), b.stream()).toArray(String[]::new);
  }
}
