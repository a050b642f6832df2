package dev.capsulevm.cli;

import dev.capsulevm.host.daemon.OneLine;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.renter.AppendConflictException;
import dev.capsulevm.renter.ProgramFailedException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * How the command line reports a failure: one line on standard error that says what was wrong, and with
 * {@code --json} also one JSON object on standard output ({@code {"error": {...}}}, with the failed
 * program's cost when a receipt backs it); a stack trace only with {@code --verbose}. {@link Main} sets
 * the mode for each run from the parsed options.
 *
 * <p>The JSON error's {@code kind}, with its exit code (README, "Exit codes"): {@code usage} (2),
 * {@code failed} and {@code unexpected} (1), {@code host-misbehaviour} (3), {@code committed-misbehaviour}
 * (5), {@code append-conflict} (6), {@code rollback} (7), {@code access-refused} (8), {@code not-allowed}
 * (9), {@code no-key} and {@code undecryptable} (10: a private capsule's epoch this renter holds no key
 * for, or whose key does not open the record).
 */
final class Failures {
  /** Exit code of a failure that has no more specific one (README, "Exit codes"). */
  static final int EXIT_FAILED = 1;
  /** Exit code of malformed arguments, as picocli uses it. */
  static final int EXIT_USAGE = 2;

  private static volatile boolean json;
  private static volatile boolean verbose;

  private Failures() {}

  /** The output mode of the command about to run. */
  static void configure(boolean jsonOutput, boolean stackTraces) {
    json = jsonOutput;
    verbose = stackTraces;
  }

  /**
   * Reports {@code failure} as {@code prefix} and its one-line description, with {@code note} on a line
   * of its own when given (e.g. where the evidence was written), and returns {@code exitCode}.
   *
   * @param kind a stable word for scripts, the JSON error's {@code kind}
   */
  static int report(int exitCode, String kind, String prefix, Throwable failure, @Nullable Path evidenceOrNull) {
    String message = OneLine.of(failure);
    PrintStream err = System.err;
    err.println(prefix + message);
    if (evidenceOrNull != null) {
      err.println("evidence: " + evidenceOrNull + " (check it with: capsulevm evidence verify " + evidenceOrNull + ")");
    }
    if (verbose) {
      failure.printStackTrace(err);
    }
    if (json) {
      Json error = new Json().put("kind", kind).put("exitCode", exitCode).put("message", message);
      Receipt receipt = receiptOrNull(failure);
      if (receipt != null) {
        error.put("cost", new Json()
            .put("budgetUnits", receipt.budget().units())
            .put("costUnits", receipt.finalCost().units())
            .put("refundUnits", receipt.refund().units()));
      }
      if (evidenceOrNull != null) {
        error.put("evidence", evidenceOrNull.toString());
      }
      System.out.println(new Json().put("error", error));
    }
    return exitCode;
  }

  /** A usage error (bad arguments): {@code error: MESSAGE}, exit {@value #EXIT_USAGE}. */
  static int usage(String message) {
    System.err.println("error: " + message);
    if (json) {
      printJson("usage", EXIT_USAGE, message);
    }
    return EXIT_USAGE;
  }

  /** The JSON error object of a failure without a receipt, on standard output. */
  static void printJson(String kind, int exitCode, String message) {
    System.out.println(new Json().put("error", new Json().put("kind", kind).put("exitCode", exitCode).put("message", message)));
  }

  /**
   * A failure no command caught: a bad value found late is a usage error; anything else is reported as
   * unexpected, in one line, with the stack trace under {@code --verbose}.
   */
  static int unexpected(Exception failure) {
    if (failure instanceof IllegalArgumentException) {
      if (verbose) {
        failure.printStackTrace(System.err);
      }
      return usage(OneLine.of(failure));
    }
    String hint = verbose ? "" : "; run again with --verbose for the stack trace";
    return report(EXIT_FAILED, "unexpected",
        "capsulevm: unexpected failure (" + failure.getClass().getSimpleName() + hint + "): ", failure, null);
  }

  /** The verified receipt behind a failed program, found along the cause chain, or null. */
  private static @Nullable Receipt receiptOrNull(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof ProgramFailedException e) {
        return e.receipt();
      }
      if (t instanceof AppendConflictException e && e.receiptOrNull() != null) {
        return e.receiptOrNull();
      }
    }
    return null;
  }
}
