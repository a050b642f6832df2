package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.daemon.HostCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The daemon command's configuration: defaults, then the config file, then the flags. */
class HostCommandTest {
  @TempDir
  Path dir;

  @Test
  void flagsOverrideTheConfigFileWhichOverridesDefaults() throws Exception {
    Path file = dir.resolve("host.properties");
    Files.writeString(file, "port=9000\nadmin-port=9001\ncommit-timeout=PT5S\nmax-concurrent-programs=3\n"
        + "max-programs-per-account=2\nreserved-share=0\nfirst-data-timeout=PT1S\n"
        + "data-dir=" + dir.resolve("data").toString().replace("\\", "/") + "\n");
    HostCommand command = new HostCommand();
    new CommandLine(command).parseArgs("--config", file.toString(), "--port", "9100", "--data-timeout", "7",
        "--first-data-timeout", "PT0.5S", "--log-level", "WARN");
    HostConfig config = invokeConfig(command);
    assertEquals(9100, config.port());
    assertEquals(9001, config.adminPort());
    assertEquals(Duration.ofSeconds(5), config.commitTimeout());
    assertEquals(Duration.ofSeconds(7), config.dataTimeout());
    assertEquals(3, config.maxConcurrentPrograms());
    assertEquals(2, config.maxProgramsPerAccount());
    assertEquals(0.0, config.reservedShare());
    assertEquals(Duration.ofMillis(500), config.firstDataTimeout());
    assertEquals(dir.resolve("data"), config.dataDirectory());
    assertEquals("127.0.0.1", config.address());
  }

  @Test
  void noFlagsGiveTheDefaults() throws Exception {
    HostConfig config = invokeConfig(new HostCommand());
    assertEquals(HostConfig.defaults(Path.of("capsulevm-data")), config);
  }

  @Test
  void unknownConfigKeysAndBadValuesAreNamed() throws Exception {
    Path file = dir.resolve("bad.properties");
    Files.writeString(file, "prot=1\n");
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new HostCommand()).setErr(new PrintWriter(err));
    assertNotEquals(0, cl.execute("--config", file.toString()));
    assertTrue(err.toString().contains("prot"), err.toString());
    StringWriter err2 = new StringWriter();
    CommandLine cl2 = new CommandLine(new HostCommand()).setErr(new PrintWriter(err2));
    assertNotEquals(0, cl2.execute("--port", "seventy"));
    assertTrue(err2.toString().contains("port"), err2.toString());
    StringWriter err3 = new StringWriter();
    CommandLine cl3 = new CommandLine(new HostCommand()).setErr(new PrintWriter(err3));
    assertEquals(2, cl3.execute("--log-level", "loud", "--data-dir", dir.resolve("never").toString()));
    assertTrue(err3.toString().contains("log-level: not one of trace, debug, info, warn, error, off: loud"),
        err3.toString());
    assertFalse(Files.exists(dir.resolve("never")), "nothing was started");
  }

  @Test
  void peersAreAllCapsulesOrNamedOnesAndBadEntriesAreNamed() throws Exception {
    String id = "ab".repeat(32);
    HostCommand command = new HostCommand();
    new CommandLine(command).parseArgs("--peers", "10.0.0.1:7420, peer.example:7420@" + id,
        "--sync-interval", "PT2M", "--sync-backoff", "3");
    HostConfig config = invokeConfig(command);
    var peers = config.replication().peers();
    assertEquals(2, peers.size());
    assertEquals("10.0.0.1:7420", peers.get(0).address());
    assertTrue(peers.get(0).capsules().isEmpty(), "no ids: every capsule");
    assertEquals(java.util.Set.of(dev.capsulevm.proofs.Hash.fromHex(id)), peers.get(1).capsules());
    assertEquals(Duration.ofMinutes(2), config.replication().interval());
    assertEquals(Duration.ofSeconds(3), config.replication().backoffBase());
    for (String bad : new String[] {"nohostport", "a:1@nothex", "a:b", "a:1@" + id + "+"}) {
      StringWriter err = new StringWriter();
      CommandLine cl = new CommandLine(new HostCommand()).setErr(new PrintWriter(err));
      assertNotEquals(0, cl.execute("--peers", bad));
      assertTrue(err.toString().contains("peers"), err.toString());
    }
  }

  @Test
  void peersMayPinAHostKeyAndSyncAllowListsKeysPerCapsule() throws Exception {
    String id = "ab".repeat(32);
    dev.capsulevm.proofs.crypto.PublicKey key = dev.capsulevm.proofs.crypto.SigningKey.generate().publicKey();
    dev.capsulevm.proofs.crypto.PublicKey other = dev.capsulevm.proofs.crypto.SigningKey.generate().publicKey();
    HostCommand command = new HostCommand();
    new CommandLine(command).parseArgs("--peers", key.toHex() + "@10.0.0.1:7420, " + key.toHex()
        + "@peer.example:7420@" + id + ", 10.0.0.2:7420@" + id,
        "--sync-allow", id + "=" + key.toHex() + "+" + other.toHex());
    HostConfig config = invokeConfig(command);
    var peers = config.replication().peers();
    assertEquals(3, peers.size());
    assertEquals("10.0.0.1:7420", peers.get(0).address());
    assertEquals(key, peers.get(0).key());
    assertTrue(peers.get(0).capsules().isEmpty());
    assertEquals("peer.example:7420", peers.get(1).address());
    assertEquals(key, peers.get(1).key());
    assertEquals(java.util.Set.of(dev.capsulevm.proofs.Hash.fromHex(id)), peers.get(1).capsules());
    assertEquals(null, peers.get(2).key(), "HOST:PORT@ID keeps its meaning");
    assertEquals(java.util.Set.of(dev.capsulevm.proofs.Hash.fromHex(id)), peers.get(2).capsules());
    dev.capsulevm.proofs.Hash capsule = dev.capsulevm.proofs.Hash.fromHex(id);
    assertEquals(java.util.Set.of(key, other), config.replication().allowedPeers().get(capsule));
    assertTrue(config.replication().mayPull(capsule, other));
    assertFalse(config.replication().mayPull(capsule,
        dev.capsulevm.proofs.crypto.SigningKey.generate().publicKey()));
    assertTrue(config.replication().mayPull(dev.capsulevm.proofs.Hash.fromHex("cd".repeat(32)), other),
        "a capsule not listed syncs with anyone");

    String[][] bad = {
        {"--peers", "zz@a:1"},
        {"--peers", key.toHex() + "@a:1@" + id + "@b:2"},
        {"--sync-allow", id},
        {"--sync-allow", "nothex=" + key.toHex()},
        {"--sync-allow", id + "=" + key.toHex() + "+zz"},
    };
    String[] named = {"peers: not a host key", "peers: one @ too many", "sync-allow: not ID=KEY+KEY",
        "sync-allow: not a capsule id", "sync-allow: not a host key"};
    for (int i = 0; i < bad.length; i++) {
      StringWriter err = new StringWriter();
      CommandLine cl = new CommandLine(new HostCommand()).setErr(new PrintWriter(err));
      assertNotEquals(0, cl.execute(bad[i]));
      assertTrue(err.toString().contains(named[i]), err.toString());
    }
  }

  @Test
  void tlsFilesAndPeerTrustComeFromTheConfigFileOrFlagsAndProblemsAreNamed() throws Exception {
    var identity = TestTls.loopbackIdentity();
    Path cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    identity.write(cert, key);
    Path file = dir.resolve("tls.properties");
    Files.writeString(file, "tls-cert=" + cert.toString().replace("\\", "/") + "\ntls-key="
        + key.toString().replace("\\", "/") + "\npeer-tls-pin=" + identity.pin() + "\n");
    HostCommand command = new HostCommand();
    new CommandLine(command).parseArgs("--config", file.toString());
    HostConfig config = invokeConfig(command);
    assertEquals(identity.certificate(), java.util.Objects.requireNonNull(config.tlsOrNull()).certificate());
    assertEquals(java.util.List.of(identity.pin()), config.replication().peerSecurity().pins());

    HostCommand caFlag = new HostCommand();
    new CommandLine(caFlag).parseArgs("--peer-tls-ca", cert.toString());
    assertTrue(invokeConfig(caFlag).replication().peerSecurity().isTls());
    assertEquals(null, invokeConfig(caFlag).tlsOrNull(), "no certificate: plaintext");

    String[][] bad = {
        {"--tls-cert", cert.toString()},
        {"--tls-cert", cert.toString(), "--tls-key", dir.resolve("missing.pem").toString()},
        {"--tls-cert", key.toString(), "--tls-key", key.toString()},
        {"--peer-tls-pin", "abcd"},
        {"--peer-tls-ca", cert.toString(), "--peer-tls-pin", identity.pin().toString()},
    };
    String[] named = {"tls-cert and tls-key", "missing.pem", "key.pem", "peer-tls-pin", "peer-tls-ca and peer-tls-pin"};
    for (int i = 0; i < bad.length; i++) {
      StringWriter err = new StringWriter();
      CommandLine cl = new CommandLine(new HostCommand()).setErr(new PrintWriter(err));
      assertNotEquals(0, cl.execute(bad[i]));
      assertTrue(err.toString().contains(named[i]), err.toString());
      assertFalse(err.toString().contains("\tat "), err.toString());
    }
  }

  private static HostConfig invokeConfig(HostCommand command) throws Exception {
    var m = HostCommand.class.getDeclaredMethod("config");
    m.setAccessible(true);
    return (HostConfig) m.invoke(command);
  }
}
