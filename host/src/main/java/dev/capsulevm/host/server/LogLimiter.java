package dev.capsulevm.host.server;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.event.Level;

/**
 * Logs what operators need to see (refused programs, timeouts, wrong admin tokens) at most once per
 * reason per interval, so an attacker or a broken client cannot flood the log: the first event of a
 * reason is logged at once, later ones within the interval are counted, and the next line logged for
 * that reason says how many were left out. Reasons are a small fixed set (an {@link EndReason}'s name,
 * "admin token"), never an account or an address, so the table stays small. Thread-safe.
 */
final class LogLimiter {
  /** One line per reason per this interval at most. */
  static final Duration INTERVAL = Duration.ofSeconds(10);

  private final Logger log;
  private final long intervalNanos;
  private final LongSupplier nanoTime;
  private final Map<String, Window> windows = new ConcurrentHashMap<>();

  /** When the reason's last line was logged, and how many events were left out since. */
  private static final class Window {
    long loggedAt;
    long suppressed;

    Window(long loggedAt) {
      this.loggedAt = loggedAt;
    }
  }

  LogLimiter(Logger log, Duration interval, LongSupplier nanoTime) {
    this.log = log;
    this.intervalNanos = interval.toNanos();
    this.nanoTime = nanoTime;
  }

  /** Logs {@code message} for {@code reason} at {@code level} unless a line for it was logged lately. */
  void log(Level level, String reason, String message) {
    if (!log.isEnabledForLevel(level)) {
      return;
    }
    String line = lineOrNull(reason, message);
    if (line != null) {
      log.atLevel(level).log(line);
    }
  }

  /** The line to log now for an event of {@code reason}, or null when it is left out (and counted). */
  @Nullable String lineOrNull(String reason, String message) {
    long now = nanoTime.getAsLong();
    Window window = windows.computeIfAbsent(reason, r -> new Window(now - intervalNanos));
    long suppressed;
    synchronized (window) {
      if (now - window.loggedAt < intervalNanos) {
        window.suppressed++;
        return null;
      }
      suppressed = window.suppressed;
      window.suppressed = 0;
      window.loggedAt = now;
    }
    return reason + ": " + message + (suppressed == 0 ? ""
        : " (" + suppressed + " more " + reason + " not logged since the last line, at most one per "
            + INTERVAL.toSeconds() + " s)");
  }
}
