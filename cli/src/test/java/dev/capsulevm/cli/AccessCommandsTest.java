package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.field;
import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.access.AccessString;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code key card}, {@code capsule share} and {@code capsule open} against a real host in-process: a
 * creator shares a capsule, members open it from fresh state directories and read from it without
 * naming a host; every bad string is refused in one line with exit 8 (a capsule the hosts do not hold:
 * exit 1), changing nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AccessCommandsTest {
  private Path dir;
  private HostServer host;
  private String address;
  private String capsule;
  private String creator;

  @BeforeAll
  void start() throws Exception {
    dir = Files.createTempDirectory("capsulevm-access-test");
    host = HostServer.start(TestHost.config(dir.resolve("host")));
    address = "127.0.0.1:" + host.port();
    fund("creator");
    Result create = run("capsule", "create", "--json", "--description", "shared", "--host", address, "--state",
        state("creator"));
    assertEquals(0, create.exitCode(), create.err());
    capsule = field(create.out(), "capsule");
    Result append = run("capsule", "append", "--capsule", capsule, "hello, members", "--state", state("creator"));
    assertEquals(0, append.exitCode(), append.err());
    creator = new RenterState(dir.resolve("creator")).metadataOrNull(Hash.fromHex(capsule)).metadata().creator().toHex();
  }

  @AfterAll
  void stop() throws Exception {
    host.close();
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private String state(String name) {
    return dir.resolve(name).toString();
  }

  private void fund(String name) {
    Result fund = run("account", "fund", "--amount", "50000000", "--admin", "127.0.0.1:" + host.adminPort(),
        "--token", host.adminToken(), "--host", address, "--state", state(name));
    assertEquals(0, fund.exitCode(), fund.err());
  }

  /** A loopback address nothing listens on (a port just released). */
  private static String deadAddress() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return "127.0.0.1:" + socket.getLocalPort();
    }
  }

  private static void assertOneLine(Result r, String expectedFragment) {
    assertTrue(r.err().contains(expectedFragment), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertEquals("", r.out());
  }

  @Test
  void aPlainStringOpensInAFreshStateAndReadsWorkWithoutAHost() throws Exception {
    Result share = run("capsule", "share", "--capsule", capsule, "--state", state("creator"));
    assertEquals(0, share.exitCode(), share.err());
    String access = share.line();
    assertTrue(access.startsWith("cvm-access1:"), access);
    assertEquals(List.of(address), AccessString.parse(access).hosts(), "the host the capsule was created on");

    fund("plain-reader");
    Result open = run("capsule", "open", access, "--state", state("plain-reader"), "--json");
    assertEquals(0, open.exitCode(), open.err());
    assertEquals(capsule, field(open.out(), "capsule"));
    assertEquals(creator, field(open.out(), "creator"));
    assertEquals(address, field(open.out(), "servedBy"));
    Path saved = dir.resolve("plain-reader").resolve("capsules").resolve(capsule);
    assertTrue(Files.exists(saved.resolve("metadata")));
    assertEquals(address, Files.readString(saved.resolve("hosts")).strip());

    Result read = run("capsule", "read", "--capsule", capsule, "--height", "1", "--state", state("plain-reader"));
    assertEquals(0, read.exitCode(), read.err());
    assertEquals("hello, members", read.line());
    Result heads = run("capsule", "heads", "--capsule", capsule, "--state", state("plain-reader"));
    assertEquals(0, heads.exitCode(), heads.err());
    Result prove = run("capsule", "prove", "--capsule", capsule, "--height", "1", "--state", state("plain-reader"));
    assertEquals(0, prove.exitCode(), prove.err());
  }

  /**
   * A sealed string listing a dead host first: only its member opens it (another member is told whose it
   * is), the dead host is passed over on open and on every later read.
   */
  @Test
  void aSealedStringOpensOnlyForItsMemberAndDeadHostsArePassedOver() throws Exception {
    fund("member");
    Result card = run("key", "card", "--state", state("member"), "--json");
    assertEquals(0, card.exitCode(), card.err());
    String memberCard = field(card.out(), "card");
    Path keyFile = dir.resolve("member").resolve("encryption.key");
    assertTrue(Files.exists(keyFile));
    if (keyFile.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile)));
    }
    assertEquals(memberCard, run("keys", "card", "--state", state("member")).line(), "the same card every time");

    String dead = deadAddress();
    Result share = run("capsule", "share", "--capsule", capsule, "--to", memberCard, "--host", dead, "--host", address,
        "--state", state("creator"));
    assertEquals(0, share.exitCode(), share.err());
    String sealed = share.line();
    assertTrue(sealed.startsWith("cvm-sealed1:"), sealed);
    String memberKey = field(card.out(), "identity");

    fund("outsider");
    assertEquals(0, run("key", "card", "--state", state("outsider")).exitCode());
    Result wrong = run("capsule", "open", sealed, "--state", state("outsider"));
    assertEquals(CapsuleCommand.EXIT_ACCESS_REFUSED, wrong.exitCode(), wrong.err());
    assertOneLine(wrong, "sealed to member " + memberKey + ", not to you");
    assertFalse(Files.exists(dir.resolve("outsider").resolve("capsules")), "nothing saved");

    Result open = run("capsule", "open", sealed, "--state", state("member"));
    assertEquals(0, open.exitCode(), open.err());
    assertTrue(open.out().contains("served by " + address), open.out());
    Result read = run("capsule", "read", "--capsule", capsule, "--height", "1", "--state", state("member"));
    assertEquals(0, read.exitCode(), read.err());
    assertEquals("hello, members", read.line());
    assertTrue(read.err().contains(dead + " did not answer"), read.err());
  }

  @Test
  void badStringsAreRefusedInOneLineAndChangeNothing() throws Exception {
    fund("refusals");
    String reader = state("refusals");
    String access = run("capsule", "share", "--capsule", capsule, "--state", state("creator")).line();

    Result truncated = run("capsule", "open", access.substring(0, access.length() - 7), "--state", reader);
    assertEquals(CapsuleCommand.EXIT_ACCESS_REFUSED, truncated.exitCode());
    assertOneLine(truncated, "capsulevm: access string is truncated");

    int middle = access.length() / 2;
    String damaged = access.substring(0, middle) + (access.charAt(middle) == 'A' ? 'B' : 'A')
        + access.substring(middle + 1);
    Result tampered = run("capsule", "open", damaged, "--state", reader);
    assertEquals(CapsuleCommand.EXIT_ACCESS_REFUSED, tampered.exitCode());
    assertOneLine(tampered, "access string is damaged (checksum)");

    Result prefix = run("capsule", "open", "cvm-access7:" + access.substring(12), "--state", reader);
    assertEquals(CapsuleCommand.EXIT_ACCESS_REFUSED, prefix.exitCode());
    assertOneLine(prefix, "unknown access string version");

    // A well-formed string whose creator is not the capsule's: the metadata the host serves proves it wrong.
    String impostor = AccessString.of(List.of(address), Hash.fromHex(capsule), SigningKey.generate().publicKey())
        .toString();
    Result wrongCreator = run("capsule", "open", impostor, "--state", reader);
    assertEquals(CapsuleCommand.EXIT_ACCESS_REFUSED, wrongCreator.exitCode());
    assertOneLine(wrongCreator, "was created by " + creator + ", not by the access string's creator");

    // A string for a capsule the host does not hold: its refusal, exit 1.
    String elsewhere = AccessString.of(List.of(address), Hash.fromHex("11".repeat(32)), PublicKey.fromHex(creator))
        .toString();
    Result notHeld = run("capsule", "open", elsewhere, "--state", reader);
    assertEquals(1, notHeld.exitCode(), notHeld.err());
    assertOneLine(notHeld, "NOT_FOUND");

    assertFalse(Files.exists(dir.resolve("refusals").resolve("capsules")), "nothing saved");

    Result withHost = run("capsule", "open", access, "--host", address, "--state", reader);
    assertEquals(2, withHost.exitCode());
    assertTrue(withHost.err().contains("takes its hosts from the access string"), withHost.err());

    Result badCard = run("capsule", "share", "--capsule", capsule, "--to", "cvm-member1:AAAA", "--state",
        state("creator"));
    assertEquals(CapsuleCommand.EXIT_ACCESS_REFUSED, badCard.exitCode());
    assertOneLine(badCard, "a member card is 128 bytes, got 3 (truncated)");

    Result unknown = run("capsule", "share", "--capsule", "22".repeat(32), "--state", reader);
    assertEquals(1, unknown.exitCode());
    assertOneLine(unknown, "is not in the renter state");
  }
}
