package dev.capsulevm.cli;

import java.util.Objects;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code capsulevm} command: one picocli subcommand per job. */
@Command(
    name = "capsulevm",
    mixinStandardHelpOptions = true,
    versionProvider = VersionCommand.Provider.class,
    description = "A verifiable storage host for DataCapsules.",
    subcommands = {
      VersionCommand.class,
      MerkleCommand.class,
      KeysCommand.class,
      TlsCommand.class,
      dev.capsulevm.host.daemon.HostCommand.class,
      CapsuleCommand.class,
      MemberCommand.class,
      AccountCommand.class,
      SyncCommand.class,
      DemoCommand.class,
      EvidenceCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main {
  /** Exit code for bad arguments, as picocli uses it. */
  static final int EXIT_USAGE = 2;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the command line and returns its exit code; used by tests in-process. Usage errors (bad or
   * missing options, malformed values) exit {@value #EXIT_USAGE}.
   */
  static int run(String... args) {
    CommandLine cmd = new CommandLine(new Main());
    // HostCommand lives in the host module, which cannot depend on the renter's AdminClient.
    Objects.requireNonNull(cmd.getSubcommands().get("host"), "host").addSubcommand(new HostStatusCommand());
    cmd.setParameterExceptionHandler(Args.usageHandler(EXIT_USAGE));
    return cmd.execute(args);
  }
}
