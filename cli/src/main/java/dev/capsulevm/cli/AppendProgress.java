package dev.capsulevm.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The progress of a streamed {@code capsule append} on standard error: on a terminal one line rewritten in
 * place ({@code [#####-----]  52%  532.0 MiB of 1.0 GiB, 133 records, 12.5 MiB/s}; without a known size,
 * no bar or share), elsewhere one line per record when asked ({@code --progress LINES}), or nothing.
 */
final class AppendProgress {
  private static final int BAR_WIDTH = 20;

  private final PrintStream err;
  private final SyncCommand.Progress mode;
  private final long totalOrMinus1;
  private final long startNanos = System.nanoTime();
  private int shown;

  /**
   * @param mode {@code AUTO} is a bar when standard error is a terminal and nothing otherwise
   * @param totalOrMinus1 the input's size when known (a file), else -1
   */
  AppendProgress(PrintStream err, SyncCommand.Progress mode, long totalOrMinus1) {
    this.err = err;
    this.mode = mode == SyncCommand.Progress.AUTO
        ? (Terminals.stderrIsTerminal() ? SyncCommand.Progress.BAR : SyncCommand.Progress.NONE) : mode;
    this.totalOrMinus1 = totalOrMinus1;
  }

  /** A record was committed: {@code bytes} of the input are appended, in {@code records} records. */
  void update(long bytes, int records, long height) {
    switch (mode) {
      case BAR -> {
        String line = line(bytes, records);
        line = line.length() > SyncDisplay.MAX_COLUMNS ? line.substring(0, SyncDisplay.MAX_COLUMNS) : line;
        err.print("\r" + line + " ".repeat(Math.max(0, shown - line.length())));
        shown = line.length();
        err.flush();
      }
      case LINES -> err.println("appended record " + records + " at height " + height + ": " + line(bytes, records));
      default -> { }
    }
  }

  /** Clears the rewritten line, so that what follows starts on an empty line. */
  void finish() {
    if (mode == SyncCommand.Progress.BAR && shown > 0) {
      err.print("\r" + " ".repeat(shown) + "\r");
      err.flush();
      shown = 0;
    }
  }

  String line(long bytes, int records) {
    double seconds = Math.max(1e-3, (System.nanoTime() - startNanos) / 1e9);
    String rate = SyncDisplay.bytes((long) (bytes / seconds)) + "/s";
    String counts = records + (records == 1 ? " record" : " records") + ", " + rate;
    if (totalOrMinus1 <= 0) {
      return SyncDisplay.bytes(bytes) + ", " + counts;
    }
    int filled = (int) Math.min(BAR_WIDTH, bytes * BAR_WIDTH / totalOrMinus1);
    return "[" + "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled) + "] "
        + String.format(Locale.ROOT, "%3d%%", Math.min(100, bytes * 100 / totalOrMinus1)) + " "
        + SyncDisplay.bytes(bytes) + " of " + SyncDisplay.bytes(totalOrMinus1) + ", " + counts;
  }
}
