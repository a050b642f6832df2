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
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import java.util.Comparator;
import java.util.stream.Stream;

/** {@code capsule ...} and {@code account ...} against a real host in-process. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RenterCommandsTest {
  private Path dir;
  private HostServer host;
  private String[] common;

  @BeforeAll
  void start() throws Exception {
    dir = Files.createTempDirectory("capsulevm-cli-test");
    host = HostServer.start(TestHost.config(dir.resolve("host")));
    common = new String[] {"--host", "127.0.0.1:" + host.port(), "--state", dir.resolve("renter").toString()};
  }

  @AfterAll
  void stop() throws Exception {
    host.close();
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private Result cli(String... args) {
    String[] all = new String[args.length + common.length];
    System.arraycopy(args, 0, all, 0, args.length);
    System.arraycopy(common, 0, all, args.length, common.length);
    return run(all);
  }


  @Test
  void theWholeCycleWithReadableAndJsonOutput() throws Exception {
    Result fund = cli("account", "fund", "--amount", "500000000", "--admin", "127.0.0.1:" + host.adminPort(),
        "--token", host.adminToken(), "--json");
    assertEquals(0, fund.exitCode(), fund.err());
    assertEquals("500000000", field(fund.out(), "balanceUnits"));
    assertTrue(Files.exists(dir.resolve("renter/account.pem")));

    Result create = cli("capsule", "create", "--json", "--description", "cli test");
    assertEquals(0, create.exitCode(), create.err());
    String capsule = field(create.out(), "capsule");

    Result append = cli("capsule", "append", "--capsule", capsule, "first", "second");
    assertEquals(0, append.exitCode(), append.err());
    assertTrue(append.out().contains("2 sub-record(s), committed"), append.out());
    Path lines = dir.resolve("lines.txt");
    Files.writeString(lines, "alpha\nbeta\ngamma\n");
    Result append2 = cli("capsule", "append", "--capsule", capsule, "--lines", lines.toString(), "--json");
    assertEquals(0, append2.exitCode(), append2.err());
    String record2 = field(append2.out(), "record");

    Result read = cli("capsule", "read", "--capsule", capsule, "--height", "1", "--index", "1");
    assertEquals(0, read.exitCode(), read.err());
    assertEquals("second", read.line());
    assertTrue(read.err().contains("verified"), read.err());
    Result readJson = cli("capsule", "read", "--capsule", capsule, "--record", record2, "--index", "2", "--json");
    assertEquals("gamma", field(readJson.out(), "payload"));

    Result prove = cli("capsule", "prove", "--capsule", capsule, "--height", "1");
    assertEquals(0, prove.exitCode(), prove.err());
    assertTrue(prove.out().contains("verified"), prove.out());
    Result proveSub = cli("capsule", "prove", "--capsule", capsule, "--record", record2, "--index", "0", "--json");
    assertEquals(0, proveSub.exitCode(), proveSub.err());
    assertEquals("true", field(proveSub.out(), "recordProofVerified"));
    assertEquals("false", field(proveSub.out(), "inclusionPathVerified"));
    Result proveSubText = cli("capsule", "prove", "--capsule", capsule, "--record", record2, "--index", "0");
    assertTrue(proveSubText.out().contains("cannot be checked without the payload"), proveSubText.out());

    Result heads = cli("capsule", "heads", "--capsule", capsule, "--json");
    assertEquals(0, heads.exitCode(), heads.err());
    assertEquals(record2, field(heads.out(), "hash"));

    Result has = cli("capsule", "has", "--record", record2);
    assertEquals(0, has.exitCode(), has.err());
    assertTrue(has.out().startsWith("held"), has.out());
    Result hasNot = cli("capsule", "has", "--record", "00".repeat(32), "--json");
    assertEquals("false", field(hasNot.out(), "held"));

    Result balance = cli("account", "balance", "--json");
    assertEquals(0, balance.exitCode(), balance.err());
    assertTrue(Long.parseLong(field(balance.out(), "balanceUnits")) < 500000000L);
  }

  /** Like {@link #cli} with a state (so an account) of its own, which leaves the first test's balance alone. */
  private Result cliOwn(String... args) {
    return run(concat(args, "--host", "127.0.0.1:" + host.port(), "--state", dir.resolve("renter-merge").toString()));
  }

  private String fundAndCreate() {
    Result fund = cliOwn("account", "fund", "--amount", "500000000", "--admin", "127.0.0.1:" + host.adminPort(),
        "--token", host.adminToken());
    assertEquals(0, fund.exitCode(), fund.err());
    Result create = cliOwn("capsule", "create", "--json", "--description", "merge");
    assertEquals(0, create.exitCode(), create.err());
    return field(create.out(), "capsule");
  }

  /**
   * A fork made by a second writer whose view is stale (the SDK, on the state's keys: the CLI itself
   * never writes on a stale view), then joined by {@code capsule merge}; reads go through the merge.
   */
  @Test
  void capsuleMerge_joinsAForkThenIsAnOrdinaryAppend() throws Exception {
    String capsule = fundAndCreate();
    Hash id = Hash.copyOf(HexFormat.of().parseHex(capsule));
    assertEquals(0, cliOwn("capsule", "append", "--capsule", capsule, "base").exitCode());
    RenterState state = new RenterState(dir.resolve("renter-merge"));
    CapsuleWriter stale = state.load(id);
    Result left = cliOwn("capsule", "append", "--capsule", capsule, "left", "--json");
    assertEquals(0, left.exitCode(), left.err());
    Hash right;
    try (HostClient client = HostClient.connect("127.0.0.1:" + host.port(), state.accountKey(null),
        RenterOptions.defaults())) {
      List<RecordWithBody> records = stale.buildRecords(
          List.of(List.of("right".getBytes(StandardCharsets.UTF_8))), System.currentTimeMillis());
      ProgramBuilder b = new ProgramBuilder(id, stale.metadata(), null, stale::headerOrNull);
      b.append(records);
      assertEquals(2, client.run(b.build()).committedHeads().size());
      right = records.get(0).hash();
    }

    Result merge = cliOwn("capsule", "merge", "--capsule", capsule, "joined", "--json");
    assertEquals(0, merge.exitCode(), merge.err());
    assertTrue(merge.out().contains("\"parents\":[\"") && merge.out().contains(right.toHex())
        && merge.out().contains(field(left.out(), "record")), merge.out());
    assertTrue(merge.out().contains("\"heads\":[\"" + field(merge.out(), "record") + "\"]"), merge.out());
    assertEquals("3", field(merge.out(), "height"));

    Result read = cliOwn("capsule", "read", "--capsule", capsule, "--record", right.toHex());
    assertEquals(0, read.exitCode(), read.err());
    assertEquals("right", read.line());
    Result readOwn = cliOwn("capsule", "read", "--capsule", capsule, "--height", "3");
    assertEquals("joined", readOwn.line());

    Result again = cliOwn("capsule", "merge", "--capsule", capsule);
    assertEquals(0, again.exitCode(), again.err());
    assertTrue(again.out().contains("at height 4, 0 sub-record(s), committed, no fork: an ordinary append"),
        again.out());
  }

  @Test
  void hostStatus_showsTheKeyCountersAndPeers() {
    String[] admin = {"--admin", "127.0.0.1:" + host.adminPort(), "--token", host.adminToken()};
    Result text = run(concat(new String[] {"host", "status"}, admin));
    assertEquals(0, text.exitCode(), text.err());
    assertTrue(text.out().startsWith("host     " + host.hostKey().toHex()), text.out());
    assertTrue(text.out().contains("peers    none"), text.out());
    Result json = run(concat(new String[] {"host", "status", "--json"}, admin));
    assertEquals(0, json.exitCode(), json.err());
    assertEquals(host.hostKey().toHex(), field(json.out(), "hostKey"));
    assertTrue(json.out().contains("\"peers\":[]"), json.out());
    Result wrongToken = run("host", "status", "--admin", "127.0.0.1:" + host.adminPort(), "--token", "wrong");
    assertEquals(1, wrongToken.exitCode());
    assertTrue(wrongToken.err().contains("UNAUTHENTICATED"), wrongToken.err());
  }


  /**
   * A reader with an empty state (only a funded account) and nothing but the capsule id: the metadata
   * comes from the host (checked against the id), then the heads, then a verified read; the state then
   * holds the metadata and the heads with the receipt claims that vouched for them.
   */
  @Test
  void aReaderStartsFromTheCapsuleIdAlone() throws Exception {
    String capsule = fundAndCreate();
    Result append = cliOwn("capsule", "append", "--capsule", capsule, "for readers", "--json");
    assertEquals(0, append.exitCode(), append.err());
    String record = field(append.out(), "record");
    Path readerState = dir.resolve("renter-reader");
    String[] own = {"--host", "127.0.0.1:" + host.port(), "--state", readerState.toString()};
    assertEquals(0, run(concat(new String[] {"account", "fund", "--amount", "1000000", "--admin",
        "127.0.0.1:" + host.adminPort(), "--token", host.adminToken()}, own)).exitCode());
    Result read = run(concat(new String[] {"capsule", "read", "--capsule", capsule, "--record", record}, own));
    assertEquals(0, read.exitCode(), read.err());
    assertEquals("for readers", read.line());
    Path saved = readerState.resolve("capsules").resolve(capsule);
    assertTrue(Files.exists(saved.resolve("metadata")));
    String heads = Files.readString(saved.resolve("heads")).strip();
    assertEquals(3, heads.split(" ").length, heads);
    assertTrue(!heads.endsWith(" -"), "the head's claim is kept: " + heads);
    Result again = run(concat(new String[] {"capsule", "heads", "--capsule", capsule, "--json"}, own));
    assertEquals(0, again.exitCode(), again.err());
    assertEquals(record, field(again.out(), "hash"));
    assertEquals("false", field(again.out(), "forked"));
  }

  /** A capsule neither the state nor the host holds: the reader's metadata fetch is refused, NOT_FOUND. */
  @Test
  void anUnknownCapsuleAndAMissingSubRecordExitOne() {
    String[] own = {"--host", "127.0.0.1:" + host.port(), "--state", dir.resolve("renter-unknown").toString()};
    Result fund = run(concat(new String[] {"account", "fund", "--amount", "1000000", "--admin",
        "127.0.0.1:" + host.adminPort(), "--token", host.adminToken()}, own));
    assertEquals(0, fund.exitCode(), fund.err());
    Result r = run(concat(new String[] {"capsule", "heads", "--capsule", "11".repeat(32)}, own));
    assertEquals(1, r.exitCode(), r.err());
    assertTrue(r.err().contains("NOT_FOUND"), r.err());
    assertEquals(2, cli("capsule", "read", "--capsule", "zz").exitCode());
  }
}
