package dev.capsulevm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code capsulevm} command: one picocli subcommand per job. */
@Command(
    name = "capsulevm",
    mixinStandardHelpOptions = true,
    versionProvider = VersionCommand.Provider.class,
    description = "A verifiable storage host for DataCapsules.",
    subcommands = {VersionCommand.class, CommandLine.HelpCommand.class})
public final class Main {
  /** Exit code for bad arguments, as picocli uses it. */
  static final int EXIT_USAGE = 2;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns its exit code; used by tests in-process. */
  static int run(String... args) {
    return new CommandLine(new Main()).execute(args);
  }
}
