package dev.capsulevm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.renter.RenterOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The renter config: the environment over the file, every value checked and named by its source. */
class RenterConfigTest {
  @TempDir Path dir;

  private final Map<String, String> env = new HashMap<>();

  private Path file(String content) throws Exception {
    Path f = dir.resolve("renter.properties");
    Files.writeString(f, content);
    return f;
  }

  private RenterConfig load(Path fileOrNull) {
    // No XDG_CONFIG_HOME file exists under the temp directory unless a test writes one.
    env.putIfAbsent("XDG_CONFIG_HOME", dir.resolve("xdg").toString());
    return RenterConfig.load(fileOrNull, env::get);
  }

  @Test
  void theEnvironmentOverridesTheFileKeyByKey() throws Exception {
    Path f = file("host=10.0.0.1:7420\nadmin=10.0.0.1:7421\nstate=~/renter-a\nbudget=0.05\nmax-cost=1\n"
        + "max-price.read-sub-record-base=900\n");
    env.put("CAPSULEVM_HOST", "10.0.0.2:7420");
    env.put("CAPSULEVM_MAX_PRICE_READ_SUB_RECORD_BASE", "700");
    RenterConfig config = load(f);
    assertEquals("10.0.0.2:7420", config.hostOrNull());
    assertEquals("CAPSULEVM_HOST", config.get("host").source());
    assertEquals("10.0.0.1:7421", config.adminOrNull());
    assertEquals(f + ": admin", config.get("admin").source());
    assertEquals(Path.of(System.getProperty("user.home"), "renter-a"), config.stateOrNull());
    assertEquals(Amount.of(50_000), config.budgetOrNull());
    assertEquals(Amount.ofCap(1), config.maxCostOrNull());
    Prices defaults = RenterOptions.defaultMaxPrices().max();
    Prices ceilings = config.maxPrices(defaults);
    assertEquals(Amount.of(700), ceilings.instruction(InstructionKind.READ_SUB_RECORD).base());
    assertEquals(defaults.downloadPerByte(), ceilings.downloadPerByte());
    assertEquals(f, config.fileOrNull());
  }

  @Test
  void theFileComesFromTheFlagElseTheEnvironmentElseTheDefaultPlaceWhenItExists() throws Exception {
    assertNull(load(null).fileOrNull(), "no default file: nothing read");
    Path xdg = dir.resolve("xdg").resolve("capsulevm");
    Files.createDirectories(xdg);
    Files.writeString(xdg.resolve("renter.properties"), "host=default:1\n");
    assertEquals("default:1", load(null).hostOrNull());
    Path named = dir.resolve("named.properties");
    Files.writeString(named, "host=named:2\n");
    env.put(RenterConfig.CONFIG_ENV, named.toString());
    assertEquals("named:2", load(null).hostOrNull());
    assertEquals("flag:3", load(file("host=flag:3\n")).hostOrNull());
  }

  @Test
  void theOlderStateVariableIsStillRead() {
    env.put("CAPSULEVM_RENTER_STATE", "/old/state");
    assertEquals(Path.of("/old/state"), load(null).stateOrNull());
    env.put("CAPSULEVM_STATE", "/new/state");
    assertEquals(Path.of("/new/state"), load(null).stateOrNull());
  }

  @Test
  void badValuesAndUnknownKeysAreNamedWithTheirSource() throws Exception {
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> load(file("hots=x\n")));
    assertTrue(unknown.getMessage().contains("unknown keys [hots]"), unknown.getMessage());
    env.put("CAPSULEVM_BUDGET", "lots");
    IllegalArgumentException budget = assertThrows(IllegalArgumentException.class, () -> load(null));
    assertTrue(budget.getMessage().startsWith("CAPSULEVM_BUDGET: 'lots' is not an amount of CAP"), budget.getMessage());
    env.clear();
    Path f = file("max-price.download-per-byte=-1\n");
    IllegalArgumentException price = assertThrows(IllegalArgumentException.class, () -> load(f));
    assertTrue(price.getMessage().startsWith(f + ": max-price.download-per-byte: a price is never negative"),
        price.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> load(dir.resolve("absent.properties")));
    assertTrue(missing.getMessage().startsWith("cannot read the renter config"), missing.getMessage());
  }

  @Test
  void theTlsChoiceIsOneSettingTheEnvironmentsWhole() throws Exception {
    Path f = file("tls-ca=/etc/ca.pem\n");
    assertEquals("tls-ca", load(f).get("tls-ca").key());
    env.put("CAPSULEVM_TLS_PIN", "ab".repeat(32));
    RenterConfig config = load(f);
    assertNull(config.get("tls-ca"), "the environment's pin replaces the file's CA");
    assertEquals("CAPSULEVM_TLS_PIN", config.get("tls-pin").source());
    env.put("CAPSULEVM_TLS", "true");
    IllegalArgumentException two = assertThrows(IllegalArgumentException.class, () -> load(f));
    assertTrue(two.getMessage().contains("CAPSULEVM_TLS_PIN and CAPSULEVM_TLS"), two.getMessage());
    env.remove("CAPSULEVM_TLS_PIN");
    env.put("CAPSULEVM_TLS", "maybe");
    IllegalArgumentException word = assertThrows(IllegalArgumentException.class, () -> load(f));
    assertTrue(word.getMessage().startsWith("CAPSULEVM_TLS: true or false"), word.getMessage());
  }

  @Test
  void everyCeilingHasAnEnvironmentVariable() {
    assertEquals("CAPSULEVM_MAX_PRICE_STORAGE_PER_BYTE_DURATION_UNIT",
        RenterConfig.envName("max-price.storage-per-byte-duration-unit"));
    assertEquals(RenterConfig.KEYS.size() + PriceFields.PRICES.size(), RenterConfig.allKeys().size());
  }
}
