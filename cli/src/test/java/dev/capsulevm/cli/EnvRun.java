package dev.capsulevm.cli;

import dev.capsulevm.cli.CliTestSupport.Result;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Runs {@link Main#run(java.util.function.Function, String...)} in-process with a given environment. */
final class EnvRun {
  private EnvRun() {}

  /** The command line with {@code env} as its whole environment, stdout and stderr captured. */
  static Result run(Map<String, String> env, String... args) {
    // The same lock as CliTestSupport's runs: both swap System.out and System.err.
    synchronized (CliTestSupport.class) {
      PrintStream oldOut = System.out;
      PrintStream oldErr = System.err;
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      try {
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        // No default config file of the machine's user: XDG_CONFIG_HOME points where none is.
        Map<String, String> all = new java.util.HashMap<>(env);
        all.putIfAbsent("XDG_CONFIG_HOME", "/nonexistent/capsulevm-test-config");
        int code = Main.run(all::get, args);
        System.out.flush();
        System.err.flush();
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
      } finally {
        System.setOut(oldOut);
        System.setErr(oldErr);
      }
    }
  }
}
