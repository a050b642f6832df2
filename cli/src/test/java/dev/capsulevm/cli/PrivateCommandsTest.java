package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.field;
import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The README's private-capsule walk against a real host in-process: create --private, a member added by
 * its card opens the capsule from a sealed access string and reads, a hex key is not enough to give read,
 * a removed member keeps what it could read and gets one line and exit 10 for what came after, rekey,
 * genesis members, and the usage errors.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrivateCommandsTest {
  private RenterStatesOnHost renters;

  @BeforeAll
  void start() throws Exception {
    renters = new RenterStatesOnHost("capsulevm-private-test");
  }

  @AfterAll
  void stop() throws Exception {
    renters.close();
  }

  private Result as(String who, String... args) {
    return renters.as(who, args);
  }

  private String card(String who) {
    return run("key", "card", "--state", renters.state(who).toString()).line();
  }

  private static void assertOneLine(Result result, int code, String contains) {
    assertEquals(code, result.exitCode(), result.err());
    assertEquals(1, result.err().strip().lines().count(), result.err());
    assertTrue(result.err().contains(contains), result.err());
  }

  @Test
  void createAddReadRemoveRekey() {
    renters.fund("alice");
    renters.fund("bob");
    Result create = as("alice", "capsule", "create", "--private", "--json");
    assertEquals(0, create.exitCode(), create.err());
    assertEquals("true", field(create.out(), "private"));
    String capsule = field(create.out(), "capsule");
    assertEquals(0, as("alice", "capsule", "append", "--capsule", capsule, "secret one").exitCode());
    Result own = as("alice", "capsule", "read", "--capsule", capsule, "--height", "1");
    assertEquals(0, own.exitCode(), own.err());
    assertEquals("secret one", own.line());
    assertTrue(own.err().contains("decrypted (epoch "), own.err());

    // Bob opens the capsule from a string sealed to his card; before he is added he reads nothing.
    String bobCard = card("bob");
    String sealed = as("alice", "capsule", "share", "--capsule", capsule, "--to", bobCard).line();
    Result open = run("capsule", "open", sealed, "--state", renters.state("bob").toString());
    assertEquals(0, open.exitCode(), open.err());
    assertTrue(open.out().contains("private"), open.out());
    Result early = as("bob", "capsule", "read", "--capsule", capsule, "--height", "1", "--json");
    assertOneLine(early, 10, "no key: this renter holds no key for record");
    assertEquals("no-key", field(early.out(), "kind"));

    // Read for a hex key alone cannot be wrapped: a usage error naming the card.
    String bobKey = run("keys", "public", "--in", renters.state("bob").resolve("account.pem").toString()).line();
    Result hexOnly = as("alice", "member", "add", "--capsule", capsule, "--key", bobKey, "--perm", "read");
    assertEquals(2, hexOnly.exitCode(), hexOnly.err());
    assertTrue(hexOnly.err().contains("member card"), hexOnly.err());

    Result add = as("alice", "member", "add", "--capsule", capsule, "--key", bobCard, "--perm", "read,add", "--json");
    assertEquals(0, add.exitCode(), add.err());
    assertEquals("forward", field(add.out(), "type"));
    Result bobReads = as("bob", "capsule", "read", "--capsule", capsule, "--height", "1");
    assertEquals(0, bobReads.exitCode(), bobReads.err());
    assertEquals("secret one", bobReads.line());
    Result bobWrites = as("bob", "capsule", "append", "--capsule", capsule, "from bob", "--json");
    assertEquals(0, bobWrites.exitCode(), bobWrites.err());
    assertEquals(0, as("alice", "capsule", "heads", "--capsule", capsule).exitCode());
    Result aliceReadsBob = as("alice", "capsule", "read", "--capsule", capsule, "--record",
        field(bobWrites.out(), "record"));
    assertEquals("from bob", aliceReadsBob.line(), aliceReadsBob.err());

    Result remove = as("alice", "member", "remove", "--capsule", capsule, "--key", bobCard);
    assertEquals(0, remove.exitCode(), remove.err());
    assertTrue(remove.out().contains("keys    new epoch "), remove.out());
    Result after = as("alice", "capsule", "append", "--capsule", capsule, "after bob", "--json");
    assertEquals(0, after.exitCode(), after.err());
    String afterRecord = field(after.out(), "record");

    // Bob keeps what he could read before, and gets one line and exit 10 for what came after.
    assertEquals(0, as("bob", "capsule", "heads", "--capsule", capsule).exitCode());
    Result kept = as("bob", "capsule", "read", "--capsule", capsule, "--height", "1");
    assertEquals("secret one", kept.line(), kept.err());
    assertOneLine(as("bob", "capsule", "read", "--capsule", capsule, "--record", afterRecord), 10,
        "after its read was taken away");

    Result rekey = as("alice", "member", "rekey", "--capsule", capsule, "--json");
    assertEquals(0, rekey.exitCode(), rekey.err());
    assertEquals("rotate", field(rekey.out(), "type"));
    assertEquals(0, as("alice", "capsule", "append", "--capsule", capsule, "after the rekey").exitCode());
    Result latest = as("alice", "capsule", "read", "--capsule", capsule, "--height", "7");
    assertEquals("after the rekey", latest.line(), latest.err());
  }

  @Test
  void genesisMembersReadFromTheStart() {
    renters.fund("dora");
    renters.fund("erin");
    String erinCard = card("erin");
    Result create = as("dora", "capsule", "create", "--private", "--member", erinCard + ":read", "--json");
    assertEquals(0, create.exitCode(), create.err());
    assertEquals("3", field(create.out(), "readers"), "dora's creator and writer keys, and erin");
    String capsule = field(create.out(), "capsule");
    assertEquals(0, as("dora", "capsule", "append", "--capsule", capsule, "for erin").exitCode());
    Result read = as("erin", "capsule", "read", "--capsule", capsule, "--height", "1");
    assertEquals(0, read.exitCode(), read.err());
    assertEquals("for erin", read.line());
    // Erin reads but may not append.
    assertEquals(9, as("erin", "capsule", "append", "--capsule", capsule, "erin").exitCode());
  }

  @Test
  void badPrivateOptionsAreUsageErrors() {
    Result plain = as("frank", "capsule", "create", "--member", "cvm-member1:AAAA:read");
    assertEquals(2, plain.exitCode(), plain.err());
    assertTrue(plain.err().contains("--private"), plain.err());
    Result noPerms = as("frank", "capsule", "create", "--private", "--member", card("frank"));
    assertEquals(2, noPerms.exitCode(), noPerms.err());
    assertTrue(noPerms.err().contains("CARD:PERMS"), noPerms.err());
    Result badCard = as("frank", "capsule", "create", "--private", "--member", "cvm-member1:AAAA:read");
    assertEquals(8, badCard.exitCode(), badCard.err());
    Result notPrivate = as("frank", "member", "rekey", "--capsule", "11".repeat(32));
    assertTrue(notPrivate.exitCode() != 0, notPrivate.err());
  }
}
