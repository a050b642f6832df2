package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.field;
import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.proofs.crypto.SigningKey;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The operator's commands against a real host: fund by public key, status, prices; and completion. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OperatorCommandsTest {
  private RenterStatesOnHost hosts;

  @BeforeAll
  void start() throws Exception {
    hosts = new RenterStatesOnHost("capsulevm-operator");
  }

  @AfterAll
  void stop() throws Exception {
    hosts.close();
  }

  private String[] admin(String... args) {
    return CliTestSupport.concat(args, "--admin", "127.0.0.1:" + hosts.host.adminPort(), "--token",
        hosts.host.adminToken());
  }

  @Test
  void anAccountIsFundedByItsPublicKeyOrMemberCardWithoutItsKeyFile() {
    String key = SigningKey.generate().publicKey().toHex();
    Result byKey = run(admin("account", "fund", "--amount", "2000000", "--public-key", key, "--json"));
    assertEquals(0, byKey.exitCode(), byKey.err());
    assertEquals(key, field(byKey.out(), "account"));
    assertEquals("2000000", field(byKey.out(), "balanceUnits"));

    Result card = run("key", "card", "--state", hosts.state("bob").toString(), "--json");
    assertEquals(0, card.exitCode(), card.err());
    Result byCard = run(admin("account", "fund", "--amount", "3000000", "--public-key", field(card.out(), "card")));
    assertEquals(0, byCard.exitCode(), byCard.err());
    assertTrue(byCard.out().contains("account " + field(card.out(), "identity")), byCard.out());
    // bob reads the balance an operator put there without ever seeing bob's key file.
    Result balance = hosts.as("bob", "account", "balance", "--json");
    assertEquals("3000000", field(balance.out(), "balanceUnits"));

    assertEquals(2, run(admin("account", "fund", "--amount", "1", "--public-key", "zz")).exitCode());
    assertEquals(2, run(admin("account", "fund", "--amount", "1", "--public-key", "ab")).exitCode());
    Result both = run(admin("account", "fund", "--amount", "1", "--public-key", key, "--account-key", "x.pem"));
    assertEquals(2, both.exitCode());
    assertTrue(both.err().contains("--public-key names the account to fund; --account-key another"), both.err());
  }

  @Test
  void statusShowsAddressesDataDirectoryStoreAndPrices() {
    Result status = run(admin("host", "status", "--json"));
    assertEquals(0, status.exitCode(), status.err());
    String out = status.out();
    assertEquals("127.0.0.1:" + hosts.host.port(), field(out, "address"));
    assertEquals("127.0.0.1:" + hosts.host.adminPort(), field(out, "adminAddress"));
    assertEquals("null", field(out, "metricsAddress"));
    assertEquals("false", field(out, "tls"));
    assertEquals(hosts.dir.resolve("host").toAbsolutePath().toString(), field(out, "dataDirectory"));
    assertTrue(Long.parseLong(field(out, "storeBytes")) > 0, out);
    assertTrue(Long.parseLong(field(out, "storeMapBytes")) >= Long.parseLong(field(out, "storeBytes")), out);
    assertTrue(out.contains("\"priceTable\":{\"id\":\""), out);
    assertTrue(out.contains("\"read-sub-record-base\":"), out);

    Result human = run(admin("host", "status"));
    assertEquals(0, human.exitCode(), human.err());
    assertTrue(human.out().contains("listens  127.0.0.1:" + hosts.host.port() + " (Host, Sync), admin 127.0.0.1:"
        + hosts.host.adminPort() + ", metrics off; plaintext"), human.out());
    assertTrue(human.out().contains("data     " + hosts.dir.resolve("host").toAbsolutePath()), human.out());
    assertTrue(human.out().contains(" in data.mdb ("), human.out());
    assertTrue(human.out().contains("prices   table "), human.out());
  }

  @Test
  void pricesAreShownFromTheHostPortAndSetThroughTheAdminService() {
    String host = "127.0.0.1:" + hosts.host.port();
    Result before = run("host", "prices", "show", "--host", host, "--json");
    assertEquals(0, before.exitCode(), before.err());
    assertEquals("true", field(before.out(), "acceptable"));
    String oldId = field(before.out(), "id");

    Result set = run(admin("host", "prices", "set", "heads-base=77", "max-instructions=5000", "--json"));
    assertEquals(0, set.exitCode(), set.err());
    assertEquals(oldId, field(set.out(), "previous"));

    Result after = run("host", "prices", "show", "--host", host);
    assertEquals(0, after.exitCode(), after.err());
    assertTrue(after.out().matches("(?s).*price    heads-base +77 units\n.*"), after.out());
    assertTrue(after.out().matches("(?s).*limit    max-instructions +5000\n.*"), after.out());
    assertTrue(after.out().contains("verdict  this renter accepts these prices"), after.out());

    Result unknown = run(admin("host", "prices", "set", "heads-bsae=1"));
    assertEquals(2, unknown.exitCode());
    assertTrue(unknown.err().contains("no price or limit is called 'heads-bsae'"), unknown.err());
    assertEquals(2, run(admin("host", "prices", "set", "heads-base=-1")).exitCode());
    assertEquals(2, run(admin("host", "prices", "set", "max-instructions=0")).exitCode());
    assertEquals(2, run(admin("host", "prices", "set", "heads-base")).exitCode());
  }

  @Test
  void completionIsPicocliScriptForTheWholeTree() {
    Result script = run("completion");
    assertEquals(0, script.exitCode(), script.err());
    assertTrue(script.out().startsWith("#!/usr/bin/env bash"), script.out().substring(0, 40));
    assertTrue(script.out().contains("complete -F _complete_capsulevm") || script.out().contains("_complete_capsulevm"),
        "the completion function");
    for (String word : new String[] {"receipts", "prices", "--max-cost", "--public-key", "--config"}) {
      assertTrue(script.out().contains(word), word);
    }
  }
}
