package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.field;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Spending control from the command line against a real host: {@code --max-cost}, the receipts kept in
 * the state ({@code receipts}), the price ceilings and the other settings of the renter config.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpendingCommandsTest {
  private RenterStatesOnHost hosts;
  private String capsule;

  @BeforeAll
  void start() throws Exception {
    hosts = new RenterStatesOnHost("capsulevm-spending");
    hosts.fund("alice");
    Result create = hosts.as("alice", "capsule", "create", "--json");
    assertEquals(0, create.exitCode(), create.err());
    capsule = field(create.out(), "capsule");
    Result append = hosts.as("alice", "capsule", "append", "--capsule", capsule, "one", "two");
    assertEquals(0, append.exitCode(), append.err());
  }

  @AfterAll
  void stop() throws Exception {
    hosts.close();
  }

  private String host() {
    return "127.0.0.1:" + hosts.host.port();
  }

  private long balance(String who) {
    Result r = hosts.as(who, "account", "balance", "--json");
    assertEquals(0, r.exitCode(), r.err());
    return Long.parseLong(field(r.out(), "balanceUnits"));
  }

  @Test
  void aProgramEstimatedAboveMaxCostIsRefusedBeforeSendingAndTheBudgetNeverAboveIt() throws Exception {
    hosts.fund("carol");
    long before = balance("carol");
    int receipts = Files.exists(hosts.state("carol").resolve("receipts.log"))
        ? Files.readAllLines(hosts.state("carol").resolve("receipts.log")).size() : 0;
    Result dear = hosts.as("carol", "capsule", "read", "--capsule", capsule, "--height", "1", "--max-cost", "0.000100");
    assertEquals(1, dear.exitCode(), dear.err());
    assertTrue(dear.err().contains("is above the most one program may cost, 0.000100 CAP: refused before sending,"
        + " nothing was spent"), dear.err());
    assertEquals(before, balance("carol"), "nothing was sent");
    int after = Files.exists(hosts.state("carol").resolve("receipts.log"))
        ? Files.readAllLines(hosts.state("carol").resolve("receipts.log")).size() : 0;
    assertEquals(receipts, after, "no program ran, so no receipt was kept");

    Result both = hosts.as("carol", "capsule", "read", "--capsule", capsule, "--height", "1", "--budget", "2",
        "--max-cost", "1");
    assertEquals(2, both.exitCode(), both.err());
    assertTrue(both.err().contains("the budget, 2.000000 CAP, is above the most one program may cost (max-cost),"
        + " 1.000000 CAP"), both.err());

    Result capped = hosts.as("carol", "capsule", "read", "--capsule", capsule, "--height", "1", "--json",
        "--max-cost", "0.5");
    assertEquals(0, capped.exitCode(), capped.err());
    assertEquals("one", field(capped.out(), "payload"));
  }

  @Test
  void everyVerifiedReceiptIsKeptAndListedAndItsSignatureCheckedOffline() throws Exception {
    hosts.fund("dave");
    Result read = hosts.as("dave", "capsule", "read", "--capsule", capsule, "--height", "1", "--index", "1");
    assertEquals(0, read.exitCode(), read.err());
    Path state = hosts.state("dave");

    Result all = CliTestSupport.run("receipts", "--state", state.toString(), "--json", "--verify");
    assertEquals(0, all.exitCode(), all.err());
    // dave's read from the capsule id alone: the metadata, the heads, then the read.
    assertEquals("3", field(all.out(), "count"));
    assertTrue(all.out().contains("\"kind\":\"metadata\""), all.out());
    assertTrue(all.out().contains("\"kind\":\"heads\""), all.out());
    assertTrue(all.out().contains("\"kind\":\"read\""), all.out());
    assertTrue(all.out().contains("\"host\":\"" + host() + "\""), all.out());
    assertTrue(all.out().contains("\"capsule\":\"" + capsule + "\""), all.out());
    assertEquals("true", field(all.out(), "verified"));

    Result last = CliTestSupport.run("receipts", "--state", state.toString(), "--last", "1", "--verify");
    assertEquals(0, last.exitCode(), last.err());
    List<String> lines = last.out().strip().lines().toList();
    assertEquals(2, lines.size(), last.out());
    assertTrue(lines.get(0).contains("  " + host() + "  " + capsule.substring(0, 16) + "...  read  cost "), lines.get(0));
    assertTrue(lines.get(0).endsWith("refunded; signature ok"), lines.get(0));
    assertTrue(lines.get(1).startsWith("1 receipt in "), lines.get(1));

    Result alice = CliTestSupport.run("receipts", "--state", hosts.state("alice").toString(), "--capsule",
        capsule.substring(0, 10));
    assertEquals(0, alice.exitCode(), alice.err());
    assertTrue(alice.out().contains("  append  cost "), alice.out());
    assertTrue(alice.out().contains(", heads "), "an append's receipt names the heads it committed: " + alice.out());

    // A signature that no longer matches its receipt is named, line by line, and the exit code says so.
    Path log = state.resolve("receipts.log");
    List<String> kept = Files.readAllLines(log);
    String first = kept.get(0);
    char lastDigit = first.charAt(first.length() - 1);
    kept.set(0, first.substring(0, first.length() - 1) + (lastDigit == '0' ? '1' : '0'));
    kept.add("r1 torn");
    Files.write(log, kept);
    Result bad = CliTestSupport.run("receipts", "--state", state.toString(), "--verify");
    assertEquals(1, bad.exitCode(), bad.out());
    assertTrue(bad.err().contains("line 1 of " + log + ": the signature does not verify"), bad.err());
    assertTrue(bad.err().contains("line 4 of " + log + ": not a receipt line"), bad.err());
    assertTrue(bad.out().contains("SIGNATURE BAD"), bad.out());

    assertEquals(2, CliTestSupport.run("receipts", "--state", state.toString(), "--capsule", "xyz").exitCode());
  }

  @Test
  void theConfigFileAndTheEnvironmentStandInForFlagsAndFlagsWin() throws Exception {
    hosts.fund("erin");
    Path config = hosts.dir.resolve("erin.properties");
    Files.writeString(config, "host=127.0.0.1:1\nstate=" + hosts.state("erin").toString().replace("\\", "/") + "\n");
    // The file's host answers nothing; the environment's is the real one.
    Result balance = EnvRun.run(Map.of("CAPSULEVM_HOST", host()), "account", "balance", "--config", config.toString(),
        "--json");
    assertEquals(0, balance.exitCode(), balance.err());
    assertEquals("500000000", field(balance.out(), "balanceUnits"));
    // A flag beats both.
    Result flagged = EnvRun.run(Map.of("CAPSULEVM_HOST", "127.0.0.1:1"), "account", "balance", "--config",
        config.toString(), "--host", host());
    assertEquals(0, flagged.exitCode(), flagged.err());
    Result shown = EnvRun.run(Map.of("CAPSULEVM_HOST", host(), "CAPSULEVM_CONFIG", config.toString()), "config");
    assertEquals(0, shown.exitCode(), shown.err());
    assertTrue(shown.out().contains("host=" + host() + "  (from CAPSULEVM_HOST)"), shown.out());
    assertTrue(shown.out().contains("(from " + config + ": state)"), shown.out());

    Files.writeString(config, "hots=1\n");
    Result unknown = EnvRun.run(Map.of(), "account", "balance", "--config", config.toString());
    assertEquals(2, unknown.exitCode(), unknown.err());
    assertTrue(unknown.err().contains("unknown keys [hots]"), unknown.err());
  }

  @Test
  void priceCeilingsFromTheConfigRefuseAHostAskingMore() throws Exception {
    hosts.fund("frank");
    Path config = hosts.dir.resolve("frank.properties");
    Files.writeString(config, "max-price.read-sub-record-base=1\n");
    Result refused = EnvRun.run(Map.of(), "capsule", "read", "--capsule", capsule, "--height", "1", "--host", host(),
        "--state", hosts.state("frank").toString(), "--config", config.toString());
    assertEquals(1, refused.exitCode(), refused.err());
    assertTrue(refused.err().contains("READ_SUB_RECORD.base is 500 units, the most accepted is 1"), refused.err());
    Result shown = EnvRun.run(Map.of("CAPSULEVM_MAX_PRICE_READ_SUB_RECORD_BASE", "1"), "host", "prices", "show",
        "--host", host(), "--json");
    assertEquals(0, shown.exitCode(), shown.err());
    assertEquals("false", field(shown.out(), "acceptable"));
    assertTrue(shown.out().contains("\"aboveCeilings\":[\"read-sub-record-base\"]"), shown.out());
    assertFalse(Files.exists(hosts.state("frank").resolve("capsules")), "nothing was read");
  }
}
