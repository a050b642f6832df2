package dev.capsulevm.bench.runner;

import java.io.Console;
import java.io.PrintStream;

/**
 * A progress bar on standard error, redrawn in place when a terminal is attached and printed as plain
 * lines otherwise (so logs of a CI run stay readable).
 */
final class Progress {
  private static final int WIDTH = 30;
  private final PrintStream out;
  private final boolean terminal;
  private final int total;
  private final long start = System.nanoTime();
  private int done;

  /**
   * Whether the console is a terminal: before Java 22 a console exists only then; from 22 on one always
   * exists and {@code Console.isTerminal()} (called reflectively, this code compiles for 17) tells.
   */
  @SuppressWarnings("SystemConsoleNull") // checks isTerminal() too, where it exists
  static boolean consoleIsTerminal() {
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

  Progress(PrintStream out, boolean terminal, int total) {
    this.out = out;
    this.terminal = terminal;
    this.total = Math.max(1, total);
  }

  /** Marks one step done, labelled with what it measured. */
  synchronized void step(String label) {
    done = Math.min(total, done + 1);
    int filled = WIDTH * done / total;
    String bar = "[" + "#".repeat(filled) + ".".repeat(WIDTH - filled) + "]";
    String line = String.format("%s %3d%% %5.0fs  %s", bar, 100 * done / total,
        (System.nanoTime() - start) / 1e9, label);
    if (terminal) {
      out.print("\r\033[K" + line);
      if (done == total) {
        out.println();
      }
    } else {
      out.println(line);
    }
    out.flush();
  }
}
