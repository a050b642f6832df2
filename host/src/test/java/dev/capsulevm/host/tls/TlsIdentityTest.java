package dev.capsulevm.host.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proto.tls.CertificatePin;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Self-signed pairs, their PEM files, and what loading refuses. */
class TlsIdentityTest {
  private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-24T00:00:00Z"), ZoneOffset.UTC);

  @TempDir
  Path dir;

  @Test
  void aSelfSignedPairNamesEveryHostAndRoundTripsThroughPem() throws Exception {
    TlsIdentity made = SelfSignedCertificate.generate(List.of("host.example", "10.0.0.7", "::1"),
        Duration.ofDays(30), CLOCK);
    X509Certificate cert = made.certificate();
    assertEquals(cert.getSubjectX500Principal(), cert.getIssuerX500Principal(), "self-signed");
    cert.verify(cert.getPublicKey());
    assertEquals(Instant.parse("2026-11-23T23:00:00Z"), cert.getNotBefore().toInstant());
    assertEquals(Instant.parse("2026-12-24T00:00:00Z"), cert.getNotAfter().toInstant());
    List<String> names = cert.getSubjectAlternativeNames().stream().map(n -> String.valueOf(n.get(1))).toList();
    assertEquals(List.of("host.example", "10.0.0.7", "0:0:0:0:0:0:0:1"), names);
    assertTrue(cert.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.1"), "serverAuth");
    assertEquals(-1, cert.getBasicConstraints(), "not a CA");

    Path certFile = dir.resolve("cert.pem");
    Path keyFile = dir.resolve("key.pem");
    made.write(certFile, keyFile);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile)));
    assertTrue(Files.readString(keyFile).startsWith("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
    TlsIdentity loaded = TlsIdentity.load(certFile, keyFile);
    assertEquals(cert, loaded.certificate());
    assertEquals(made.pin(), loaded.pin());
    assertEquals(CertificatePin.of(cert), loaded.pin());
    assertThrows(java.nio.file.FileAlreadyExistsException.class, () -> made.write(certFile, dir.resolve("k2.pem")),
        "never overwrites");
  }

  @Test
  void loadingNamesTheFileAndWhatIsWrong() throws Exception {
    TlsIdentity a = SelfSignedCertificate.generate(List.of("a.example"), Duration.ofDays(1), CLOCK);
    TlsIdentity b = SelfSignedCertificate.generate(List.of("b.example"), Duration.ofDays(1), CLOCK);
    a.write(dir.resolve("a.pem"), dir.resolve("a.key"));
    b.write(dir.resolve("b.pem"), dir.resolve("b.key"));
    Files.writeString(dir.resolve("junk.pem"), "hello\n");

    assertMessage(() -> TlsIdentity.load(dir.resolve("a.pem"), dir.resolve("b.key")), "b.key", "not the key of");
    assertMessage(() -> TlsIdentity.load(dir.resolve("missing.pem"), dir.resolve("a.key")), "missing.pem",
        "no such file");
    assertMessage(() -> TlsIdentity.load(dir.resolve("a.pem"), dir.resolve("missing.key")), "missing.key",
        "no such file");
    assertMessage(() -> TlsIdentity.load(dir.resolve("junk.pem"), dir.resolve("a.key")), "junk.pem", "certificate");
    assertMessage(() -> TlsIdentity.load(dir.resolve("a.pem"), dir.resolve("junk.pem")), "junk.pem",
        "no PEM private key");
    assertMessage(() -> TlsIdentity.load(dir.resolve("a.pem"), dir.resolve("a.pem")), "a.pem", "no PEM private key");
  }

  @Test
  void badNamesAndValiditiesAreRefused() {
    for (String bad : List.of("", "under_score.example", "1.2.3.4.5", "256.1.1.1", "a..b", "::g")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> SelfSignedCertificate.generate(List.of(bad), Duration.ofDays(1), CLOCK), bad);
      assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class,
        () -> SelfSignedCertificate.generate(List.of(), Duration.ofDays(1), CLOCK));
    assertThrows(IllegalArgumentException.class,
        () -> SelfSignedCertificate.generate(List.of("a.example"), Duration.ZERO, CLOCK));
  }

  @Test
  void pinsParseInEveryUsualSpelling() {
    TlsIdentity a = SelfSignedCertificate.generate(List.of("a.example"), Duration.ofDays(1), CLOCK);
    String hex = a.pin().toString();
    assertEquals(64, hex.length());
    StringBuilder colons = new StringBuilder();
    for (int i = 0; i < hex.length(); i += 2) {
      colons.append(i == 0 ? "" : ":").append(hex.substring(i, i + 2).toUpperCase(java.util.Locale.ROOT));
    }
    assertEquals(a.pin(), CertificatePin.parse(colons.toString()));
    assertEquals(a.pin(), CertificatePin.parse("sha256:" + hex));
    assertEquals(a.pin(), CertificatePin.parse(" SHA256:" + hex + " "));
    for (String bad : List.of(hex.substring(1), hex + "00", "zz" + hex.substring(2), "")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CertificatePin.parse(bad));
      assertTrue(e.getMessage().contains("64 hex digits"), e.getMessage());
    }
  }

  private static void assertMessage(Load load, String... parts) {
    IOException e = assertThrows(IOException.class, load::run);
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), e.getMessage() + " lacks " + part);
    }
  }

  private interface Load {
    void run() throws IOException;
  }
}
