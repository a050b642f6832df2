package dev.capsulevm.cli;

import dev.capsulevm.renter.SyncOutcome;
import dev.capsulevm.renter.SyncProgress;
import java.io.Console;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Renders {@code SyncNow} progress: on a terminal one line rewritten in place with {@code \r} (padded
 * to cover the longer line it replaces), elsewhere one plain line per report, which is what a log file
 * wants. The rewritten line is cut at {@value #MAX_COLUMNS} columns: a line that wraps cannot be
 * rewritten by {@code \r}, and Java cannot ask the terminal its width.
 */
final class SyncDisplay {
  private static final int BAR_WIDTH = 10;
  static final int MAX_COLUMNS = 79;
  /** What stands for the outcome of a session whose report carries none (as {@code host status} prints it). */
  static final String NO_OUTCOME = "(no outcome)";

  private final PrintStream out;
  private final boolean rewrite;
  private int shown;

  /** @param rewrite one line rewritten in place (a terminal) rather than one line per report */
  SyncDisplay(PrintStream out, boolean rewrite) {
    this.out = out;
    this.rewrite = rewrite;
  }

  void progress(SyncProgress p) {
    if (rewrite) {
      String line = line(p);
      line = line.length() > MAX_COLUMNS ? line.substring(0, MAX_COLUMNS) : line;
      out.print("\r" + line + " ".repeat(Math.max(0, shown - line.length())));
      shown = line.length();
    } else {
      out.println("sync " + shortId(p) + " " + counters(p) + (p.errorOrNull() == null ? "" : "; error: " + p.errorOrNull()));
    }
    out.flush();
  }

  /** Clears the rewritten line, so that what follows starts on an empty line. */
  void finish() {
    if (rewrite && shown > 0) {
      out.print("\r" + " ".repeat(shown) + "\r");
      out.flush();
      shown = 0;
    }
  }

  /** One report: {@code [###-------] 2/5 records: sent 1.2 KiB/3 rec, recv 3.4 MiB/12 rec, 2 trips} (round trips). */
  static String line(SyncProgress p) {
    return bar(p.capsuleIndex() + (p.ended() ? 1 : 0), p.capsuleCount()) + " " + counters(p);
  }

  /** The line without its bar: session i/n, phase or outcome, bytes, records, round trips. */
  static String counters(SyncProgress p) {
    SyncOutcome outcome = p.outcomeOrNull();
    String state = outcome != null ? outcome.name() : p.phase();
    return (p.capsuleIndex() + 1) + "/" + p.capsuleCount() + " " + state
        + ": sent " + bytes(p.bytesSent()) + "/" + p.recordsSent() + " rec"
        + ", recv " + bytes(p.bytesReceived()) + "/" + p.recordsReceived() + " rec"
        + ", " + p.roundTrips() + (p.roundTrips() == 1 ? " trip" : " trips");
  }

  /** {@code [###-------]}: the share of the {@code count} sessions that are done. */
  static String bar(int done, int count) {
    int filled = count <= 0 ? 0 : (int) Math.min(BAR_WIDTH, (long) done * BAR_WIDTH / count);
    return "[" + "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled) + "]";
  }

  /** A session's summary: capsule, outcome, bytes, records, round trips, and the error if any. */
  static String summary(SyncProgress p) {
    return (p.capsuleOrNull() == null ? "-" : p.capsuleOrNull().toHex()) + "  "
        + (p.outcomeOrNull() == null ? NO_OUTCOME : p.outcomeOrNull().name())
        + "  sent " + bytes(p.bytesSent()) + ", received " + bytes(p.bytesReceived())
        + "; records sent " + p.recordsSent() + ", received " + p.recordsReceived()
        + "; " + p.roundTrips() + (p.roundTrips() == 1 ? " round trip" : " round trips")
        + (p.errorOrNull() == null ? "" : ": " + p.errorOrNull());
  }

  /**
   * Whether a finished session needs an operator's look ({@link SyncOutcome#isProblem}). {@code syncNow}
   * returns only reports that carry an outcome; one without says nothing about the replicas, so it is a
   * problem too.
   */
  static boolean isProblem(SyncProgress p) {
    SyncOutcome outcome = p.outcomeOrNull();
    return outcome == null || outcome.isProblem();
  }

  /** Bytes in binary units with one decimal: {@code 512 B}, {@code 1.5 KiB}, {@code 3.0 MiB}. */
  static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = n;
    int unit = -1;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
  }

  private static String shortId(SyncProgress p) {
    return p.capsuleOrNull() == null ? "-" : p.capsuleOrNull().toHex().substring(0, 16);
  }

  /**
   * Whether standard error is a terminal. Java 17 can only ask that of stdin and stdout together
   * ({@code System.console()}), so on Linux the file descriptor's link is read instead.
   */
  static boolean stderrIsTerminal() {
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (Exception e) {
      return consoleIsTerminal();
    }
  }

  /**
   * Whether the console is a terminal: before Java 22 a console exists only then; from 22 on one always
   * exists and {@code Console.isTerminal()} (called reflectively, this code compiles for 17) tells.
   */
  @SuppressWarnings("SystemConsoleNull") // checks isTerminal() too, where it exists
  private static boolean consoleIsTerminal() {
    Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true;
    }
  }
}
