package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.slf4j.helpers.NOPLogger;

/** One line per reason per interval, with the count of those left out; on a clock the test moves. */
class LogLimiterTest {
  private long now = 5_000_000_000L;
  private final LogLimiter limiter = new LogLimiter(NOPLogger.NOP_LOGGER, Duration.ofSeconds(10), () -> now);

  @Test
  void theFirstIsLogged_laterOnesWithinTheIntervalAreCounted_andTheNextLineSaysHowMany() {
    assertEquals("BUSY: refused a", limiter.lineOrNull("BUSY", "refused a"));
    now += 1_000_000_000L;
    assertNull(limiter.lineOrNull("BUSY", "refused b"));
    assertNull(limiter.lineOrNull("BUSY", "refused c"));
    assertEquals("ACCOUNT_BUSY: refused d", limiter.lineOrNull("ACCOUNT_BUSY", "refused d"),
        "reasons are limited apart");
    now += 9_000_000_000L;
    assertEquals("BUSY: refused e (2 more BUSY not logged since the last line, at most one per 10 s)",
        limiter.lineOrNull("BUSY", "refused e"));
    now += 9_999_999_999L;
    assertNull(limiter.lineOrNull("BUSY", "refused f"));
    now += 1;
    assertEquals("BUSY: refused g (1 more BUSY not logged since the last line, at most one per 10 s)",
        limiter.lineOrNull("BUSY", "refused g"));
    now += 60_000_000_000L;
    assertEquals("BUSY: refused h", limiter.lineOrNull("BUSY", "refused h"), "nothing left out since");
  }
}
