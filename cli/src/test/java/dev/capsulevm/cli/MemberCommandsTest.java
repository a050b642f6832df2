package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.field;
import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import java.nio.file.Files;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The README's walk, against a real host in-process: create a capsule, add a member, the member appends
 * from its own state, remove it, its next append is refused (exit 9, naming the key and the removal).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MemberCommandsTest {
  private RenterStatesOnHost renters;

  @BeforeAll
  void start() throws Exception {
    renters = new RenterStatesOnHost("capsulevm-member-test");
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
  void createAddMemberAppendsRemoveRefused() throws Exception {
    fund("alice");
    fund("bob");
    String capsule = field(as("alice", "capsule", "create", "--json").out(), "capsule");
    assertEquals(0, as("alice", "capsule", "append", "--capsule", capsule, "from alice").exitCode());
    // Bob's identity is his account key.
    String bob = run("keys", "public", "--in", renters.state("bob").resolve("account.pem").toString()).line();

    Result bobEarly = as("bob", "capsule", "append", "--capsule", capsule, "too early");
    assertEquals(9, bobEarly.exitCode(), bobEarly.err());
    assertTrue(bobEarly.err().contains(bob) && bobEarly.err().contains("is not a member"), bobEarly.err());

    // Alice adds Bob by his member card (its signature by his identity is checked); removes him by hex key.
    String card = run("key", "card", "--state", renters.state("bob").toString()).line();
    assertTrue(card.startsWith("cvm-member1:"), card);
    Result add = as("alice", "member", "add", "--capsule", capsule, "--key", card, "--perm", "read,add", "--json");
    assertEquals(0, add.exitCode(), add.err());
    String granted = field(add.out(), "record");

    Result bobAppend = as("bob", "capsule", "append", "--capsule", capsule, "from bob", "--json");
    assertEquals(0, bobAppend.exitCode(), bobAppend.err());
    assertTrue(Files.exists(renters.state("bob").resolve("capsules/" + capsule + "/changelog")), "bob keeps the membership records");

    Result list = as("alice", "member", "list", "--capsule", capsule, "--json");
    assertEquals(0, list.exitCode(), list.err());
    assertTrue(list.out().contains("{\"key\":\"" + bob + "\",\"bits\":[\"read\",\"add\"],\"creator\":false,"
        + "\"grantedBy\":{\"record\":\"" + granted + "\""), list.out());
    Result text = as("alice", "member", "list", "--capsule", capsule);
    assertTrue(text.out().contains("member  " + bob + " read,add  granted by record " + granted), text.out());
    assertTrue(text.out().contains("read,add,admin,superadmin  the creator"), text.out());

    Result remove = as("alice", "member", "remove", "--capsule", capsule, "--key", bob, "--json");
    assertEquals(0, remove.exitCode(), remove.err());
    String removal = field(remove.out(), "record");

    Result refused = as("bob", "capsule", "append", "--capsule", capsule, "after removal");
    assertEquals(9, refused.exitCode(), refused.err());
    assertEquals(1, refused.err().strip().lines().count(), refused.err());
    assertTrue(refused.err().contains(bob) && refused.err().contains(removal), refused.err());

    Result after = as("bob", "member", "list", "--capsule", capsule);
    assertEquals(0, after.exitCode(), after.err());
    assertFalse(after.out().contains("member  " + bob), after.out());
    // Alice's writer key (the one 'capsule create' made) still appends.
    assertEquals(0, as("alice", "capsule", "append", "--capsule", capsule, "still here").exitCode());
  }

  @Test
  void badKeysAndPermissionsAreUsageErrors() {
    String capsule = "11".repeat(32);
    Result perm = as("carol", "member", "add", "--capsule", capsule, "--key", "22".repeat(32), "--perm", "read,fly");
    assertEquals(2, perm.exitCode());
    assertTrue(perm.err().contains("unknown permission 'fly'"), perm.err());
    Result key = as("carol", "member", "remove", "--capsule", capsule, "--key", "22".repeat(31));
    assertEquals(2, key.exitCode());
    assertTrue(key.err().contains("64 hex digits"), key.err());
    Result card = as("carol", "member", "remove", "--capsule", capsule, "--key", "cvm-member1:AAAA");
    assertEquals(8, card.exitCode(), card.err());
    assertTrue(card.err().contains("member card"), card.err());
  }
}
