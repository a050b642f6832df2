package dev.capsulevm.host.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.HostConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code --max-uncommitted-risk-units}: its default, a value, and bad values named by key. */
class HostCommandRiskTest {
  private final HostConfig base = HostConfig.defaults(Path.of("unused"));

  @Test
  void theRiskDefaultsTo10000CapAndTakesAValue() throws Exception {
    assertEquals(10_000L * 1_000_000L, HostCommand.apply(base, Map.of()).maxUncommittedRiskUnits());
    assertEquals(5_000, HostCommand.apply(base, Map.of("max-uncommitted-risk-units", "5000"))
        .maxUncommittedRiskUnits());
  }

  @Test
  void aBadRiskIsRefusedNamingIt() {
    IllegalArgumentException word = assertThrows(IllegalArgumentException.class,
        () -> HostCommand.apply(base, Map.of("max-uncommitted-risk-units", "lots")));
    assertTrue(word.getMessage().startsWith("max-uncommitted-risk-units"), word.getMessage());
    IllegalArgumentException zero = assertThrows(IllegalArgumentException.class,
        () -> HostCommand.apply(base, Map.of("max-uncommitted-risk-units", "0")));
    assertTrue(zero.getMessage().contains("maxUncommittedRiskUnits must be positive"), zero.getMessage());
  }
}
