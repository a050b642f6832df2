package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.concat;
import static dev.capsulevm.cli.CliTestSupport.field;
import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.RenterOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two hosts and one renter through the CLI: a capsule created on one host reaches the other by
 * {@code sync}; writes on both sides of a partition become a fork on both after the next sync; the
 * renter's {@code capsule merge} joins it, and the merge reaches the first host too.
 */
class ReplicationCommandsTest {
  private Path dir;
  private HostServer a;
  private HostServer b;

  @BeforeEach
  void start() throws Exception {
    dir = Files.createTempDirectory("capsulevm-cli-replication");
    a = HostServer.start(TestHost.config(dir.resolve("a")));
    b = HostServer.start(TestHost.config(dir.resolve("b")));
  }

  @AfterEach
  void stop() throws Exception {
    a.close();
    b.close();
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private Result renter(HostServer host, String... args) {
    return run(concat(args, "--host", "127.0.0.1:" + host.port(), "--state", dir.resolve("renter").toString()));
  }

  private Result sync(HostServer from, HostServer to, String... more) {
    String[] args = {"sync", "--peer", "127.0.0.1:" + to.port(), "--admin", "127.0.0.1:" + from.adminPort(),
        "--token", from.adminToken(), "--progress", "LINES"};
    return run(concat(args, more));
  }


  @Test
  void syncCarriesACapsuleAcrossAndAForkIsMergedByTheRenter() throws Exception {
    for (HostServer host : List.of(a, b)) {
      Result fund = renter(host, "account", "fund", "--amount", "500000000", "--admin",
          "127.0.0.1:" + host.adminPort(), "--token", host.adminToken());
      assertEquals(0, fund.exitCode(), fund.err());
    }
    Result create = renter(a, "capsule", "create", "--json", "--description", "replicated");
    assertEquals(0, create.exitCode(), create.err());
    String capsule = field(create.out(), "capsule");
    assertEquals(0, renter(a, "capsule", "append", "--capsule", capsule, "base").exitCode());

    // b does not hold the capsule: it pulls it, metadata first
    Result first = sync(b, a, "--capsule", capsule);
    assertEquals(0, first.exitCode(), first.out() + first.err());
    assertTrue(first.out().contains("CONVERGED"), first.out());
    assertTrue(first.err().contains(" 1/1 "), "progress lines on stderr: " + first.err());
    assertEquals("base", renter(b, "capsule", "read", "--capsule", capsule, "--height", "1").line());

    // a partition: the renter writes on a, and (through the SDK, on its view of b) on b
    Hash id = Hash.copyOf(HexFormat.of().parseHex(capsule));
    RenterState state = new RenterState(dir.resolve("renter"));
    CapsuleWriter viewOfB = state.load(id);
    assertEquals(0, renter(a, "capsule", "append", "--capsule", capsule, "on-a").exitCode());
    try (HostClient client = HostClient.connect("127.0.0.1:" + b.port(), state.accountKey(null),
        RenterOptions.defaults())) {
      List<RecordWithBody> records = viewOfB.buildRecords(
          List.of(List.of("on-b".getBytes(StandardCharsets.UTF_8))), System.currentTimeMillis());
      ProgramBuilder program = new ProgramBuilder(id, viewOfB.metadata(), null, viewOfB::headerOrNull);
      program.append(records);
      assertEquals(1, client.run(program.build()).committedHeads().size(), "b has not seen on-a yet");
    }

    // healing: every capsule b holds, with a; both hold both branches
    Result healed = sync(b, a, "--json");
    assertEquals(0, healed.exitCode(), healed.out() + healed.err());
    assertEquals("CONVERGED", field(healed.out(), "outcome"));
    assertEquals("1", field(healed.out(), "recordsReceived"));
    assertEquals("1", field(healed.out(), "recordsSent"));
    for (HostServer host : List.of(a, b)) {
      Result heads = renter(host, "capsule", "heads", "--capsule", capsule, "--json");
      assertEquals(0, heads.exitCode(), heads.err());
      assertEquals(2, count(heads.out(), "\"hash\""), heads.out());
    }

    // the renter merges on b; the merge reaches a
    Result merge = renter(b, "capsule", "merge", "--capsule", capsule, "joined", "--json");
    assertEquals(0, merge.exitCode(), merge.err());
    Result after = sync(a, b, "--capsule", capsule, "--json");
    assertEquals(0, after.exitCode(), after.out() + after.err());
    assertEquals("1", field(after.out(), "recordsReceived"));
    Result heads = renter(a, "capsule", "heads", "--capsule", capsule, "--json");
    assertEquals(1, count(heads.out(), "\"hash\""), heads.out());
    assertEquals("joined", renter(a, "capsule", "read", "--capsule", capsule, "--height", "3").line());

    Result status = run("host", "status", "--admin", "127.0.0.1:" + b.adminPort(), "--token", b.adminToken());
    assertEquals(0, status.exitCode(), status.err());
    assertTrue(status.out().contains("127.0.0.1:" + a.port()) && status.out().contains("CONVERGED"), status.out());
  }

  @Test
  void aPeerThatIsNotThereIsAFailedSessionAndExitFour() {
    Result create = renter(a, "account", "fund", "--amount", "500000000", "--admin",
        "127.0.0.1:" + a.adminPort(), "--token", a.adminToken());
    assertEquals(0, create.exitCode(), create.err());
    Result made = renter(a, "capsule", "create", "--json", "--description", "alone");
    assertEquals(0, made.exitCode(), made.err());
    Result none = sync(a, b, "--json");
    assertEquals(SyncCommand.EXIT_SESSION_PROBLEM, none.exitCode(), none.out() + none.err());
    assertTrue(none.out().contains("NOT_FOUND"), "b does not hold the capsule: " + none.out());
  }

  private static int count(String text, String needle) {
    int n = 0;
    for (int at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      n++;
    }
    return n;
  }
}
