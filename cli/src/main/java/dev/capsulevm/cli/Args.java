package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** Parsing helpers shared by the subcommands; every failure is a usage error (exit 2). */
final class Args {
  private Args() {}

  static ParameterException usage(CommandSpec spec, String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  /** Bytes from hex digits of either case; {@code what} names the argument in the error. */
  static byte[] hex(CommandSpec spec, String what, String text) {
    try {
      return HexFormat.of().parseHex(text);
    } catch (IllegalArgumentException e) {
      throw usage(spec, what + ": not hex: '" + text + "' (" + e.getMessage() + ")");
    }
  }

  /** A 32-byte hash from 64 hex digits. */
  static Hash hash(CommandSpec spec, String what, String text) {
    byte[] bytes = hex(spec, what, text);
    if (bytes.length != Hash.LENGTH) {
      throw usage(spec, what + ": a hash is 32 bytes (64 hex digits), got " + bytes.length + " bytes");
    }
    return Hash.copyOf(bytes);
  }

  /** A comma-separated list of hashes; the empty string is the empty list. */
  static List<Hash> hashes(CommandSpec spec, String what, String text) {
    List<Hash> out = new ArrayList<>();
    if (text.isEmpty()) {
      return out;
    }
    String[] parts = text.split(",", -1);
    for (int i = 0; i < parts.length; i++) {
      out.add(hash(spec, what + " element " + (i + 1), parts[i].strip()));
    }
    return out;
  }

  /** {@code value} when it is {@code min} to {@code max}; otherwise a usage error naming the option. */
  static long inRange(CommandSpec spec, String what, long value, long min, long max) {
    if (value < min || value > max) {
      throw usage(spec, what + " must be " + min + " to " + max + ", got " + value);
    }
    return value;
  }

  static long nonNegative(CommandSpec spec, String what, long value) {
    if (value < 0) {
      throw usage(spec, what + " must not be negative, got " + value);
    }
    return value;
  }

  /**
   * Reports a usage error in a short form (the message and a pointer to --help, not the whole usage
   * text) and exits with {@code exitCode}.
   */
  static CommandLine.IParameterExceptionHandler usageHandler(int exitCode) {
    return (ex, args) -> {
      CommandLine cmd = ex.getCommandLine();
      PrintWriter err = cmd.getErr();
      String message = String.valueOf(ex.getMessage());
      err.println("error: " + (message.startsWith("Error: ") ? message.substring(7) : message));
      CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
      err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
      err.flush();
      if (List.of(args).contains("--json")) {
        Failures.printJson("usage", exitCode, message.startsWith("Error: ") ? message.substring(7) : message);
      }
      return exitCode;
    };
  }
}
