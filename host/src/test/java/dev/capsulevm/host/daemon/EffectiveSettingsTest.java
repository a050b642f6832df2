package dev.capsulevm.host.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.vm.retention.Retention;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** What the daemon logs at start: every setting by its config key, files by path, no secret. */
class EffectiveSettingsTest {
  @Test
  void everyConfigKeyIsThereWithItsEffectiveValue() throws Exception {
    Map<String, String> given = Map.of("port", "9000", "max-uncommitted-risk-units", "5000", "sync-interval", "PT2M",
        "peers", "10.0.0.1:7420");
    HostConfig config = HostCommand.apply(HostConfig.defaults(Path.of("data")), given);
    SortedMap<String, String> settings = HostCommand.effectiveSettings(config, Retention.Settings.DEFAULT, given, "info");
    assertEquals(new TreeSet<>(HostCommand.KEYS), settings.keySet(), "one value per settable key, and no other");
    assertEquals("9000", settings.get("port"));
    assertEquals("5000", settings.get("max-uncommitted-risk-units"));
    assertEquals("PT2M", settings.get("sync-interval"));
    assertEquals("10.0.0.1:7420", settings.get("peers"));
    assertEquals(Path.of("data").toAbsolutePath().toString(), settings.get("data-dir"));
    assertEquals("none (plaintext)", settings.get("tls-cert"));
    assertEquals("info", settings.get("log-level"));
    assertEquals("PT720H", settings.get("storage-duration-unit"));
  }

  @Test
  void paymentSessionBoundsAreKeys() throws Exception {
    HostConfig config = HostCommand.apply(HostConfig.defaults(Path.of("data")), Map.of(
        "max-sessions-per-account", "2", "max-sessions", "50", "session-idle-timeout", "PT1M"));
    assertEquals(new HostConfig.SessionLimits(2, 50, java.time.Duration.ofMinutes(1)), config.sessions());
    assertEquals(HostConfig.SessionLimits.DEFAULTS,
        HostCommand.apply(HostConfig.defaults(Path.of("data")), Map.of()).sessions());
  }

  @Test
  void theRiskLimitIsAConfigFileKeyToo() {
    assertTrue(HostCommand.KEYS.contains("max-uncommitted-risk-units"));
  }
}
