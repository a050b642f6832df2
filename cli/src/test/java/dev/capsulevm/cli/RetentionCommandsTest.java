package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.field;
import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.proofs.Hash;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code capsule retention} and a {@code capsule read} of a dropped sub-record, against a real host
 * in-process: the superadmin keeps the newest 2 heights, the host drops older payloads, and a read of
 * one prints the verified "dropped" line and exits 1; only a superadmin sets retention.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RetentionCommandsTest {
  private RenterStatesOnHost renters;

  @BeforeAll
  void start() throws Exception {
    renters = new RenterStatesOnHost("capsulevm-retention-test");
  }

  @AfterAll
  void stop() throws Exception {
    renters.close();
  }

  private Result as(String who, String... args) {
    return renters.as(who, args);
  }

  private void fund(String who) {
    renters.fund(who);
  }

  @Test
  void aReadOfADroppedSubRecordSaysSoInOneLine() throws Exception {
    fund("alice");
    String capsule = field(as("alice", "capsule", "create", "--json").out(), "capsule");
    for (int h = 1; h <= 3; h++) {
      assertEquals(0, as("alice", "capsule", "append", "--capsule", capsule, "payload " + h).exitCode());
    }
    Result set = as("alice", "capsule", "retention", "--capsule", capsule, "--keep-heights", "2");
    assertEquals(0, set.exitCode(), set.err());
    assertTrue(set.out().startsWith("retention keep the newest 2 heights"), set.out());
    for (int h = 5; h <= 6; h++) {
      assertEquals(0, as("alice", "capsule", "append", "--capsule", capsule, "payload " + h).exitCode());
    }
    // The host runs retention on its own thread shortly after commits; a run by hand waits for a run in
    // progress and drops whatever is left (nothing, or what the host's run had not reached yet).
    renters.host.retention().run(Hash.fromHex(capsule));

    Result dropped = as("alice", "capsule", "read", "--capsule", capsule, "--height", "1");
    assertEquals(1, dropped.exitCode(), dropped.err());
    assertEquals(1, dropped.out().strip().lines().count(), dropped.out());
    assertTrue(dropped.out().startsWith("dropped: sub-record 0 of record ")
        && dropped.out().contains("(height 1) was dropped under the capsule's retention policy (keep the newest 2"
            + " heights, witness "), dropped.out());
    Result json = as("alice", "capsule", "read", "--capsule", capsule, "--height", "2", "--json");
    assertEquals(1, json.exitCode(), json.err());
    assertEquals("true", field(json.out(), "dropped"));

    Result kept = as("alice", "capsule", "read", "--capsule", capsule, "--height", "6");
    assertEquals(0, kept.exitCode(), kept.err());
    assertEquals("payload 6", kept.out().strip());
  }

  @Test
  void onlyASuperadminSetsRetentionAndBadValuesAreUsageErrors() throws Exception {
    fund("carol");
    fund("dave");
    String capsule = field(as("carol", "capsule", "create", "--json").out(), "capsule");
    String card = run("key", "card", "--state", renters.state("dave").toString()).line();
    assertEquals(0, as("carol", "member", "add", "--capsule", capsule, "--key", card, "--perm", "read,add,admin")
        .exitCode());
    Result refused = as("dave", "capsule", "retention", "--capsule", capsule, "--keep-millis", "60000");
    assertEquals(9, refused.exitCode(), refused.err());
    assertEquals(1, refused.err().strip().lines().count(), refused.err());
    assertTrue(refused.err().contains("superadmin"), refused.err());

    Result zero = as("carol", "capsule", "retention", "--capsule", capsule, "--keep-heights", "0");
    assertEquals(2, zero.exitCode());
    assertTrue(zero.err().contains("--keep-heights must be at least 1"), zero.err());
    Result both = as("carol", "capsule", "retention", "--capsule", capsule, "--keep-heights", "3", "--keep-millis", "5");
    assertEquals(2, both.exitCode());
  }
}
