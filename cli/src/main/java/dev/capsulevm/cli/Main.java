package dev.capsulevm.cli;

import dev.capsulevm.host.daemon.HostCommand;
import dev.capsulevm.host.daemon.Logging;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;

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
      ReceiptsCommand.class,
      SyncCommand.class,
      ConfigCommand.class,
      DemoCommand.class,
      EvidenceCommand.class,
      CompletionCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main {
  /** Exit code for bad arguments, as picocli uses it. */
  static final int EXIT_USAGE = Failures.EXIT_USAGE;

  @Option(names = "--verbose", scope = ScopeType.INHERIT,
      description = "On failure, print the stack trace too; show the libraries' warnings (e.g. gRPC's).")
  boolean verbose;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the command line and returns its exit code; used by tests in-process. Usage errors (bad or
   * missing options, malformed values) exit {@value #EXIT_USAGE}.
   */
  static int run(String... args) {
    return run(System::getenv, args);
  }

  /** {@link #run(String...)} with {@code environment} in place of the process's (tests). */
  static int run(Function<String, @Nullable String> environment, String... args) {
    RenterConfig.configure(null, environment);
    CommandLine cmd = new CommandLine(new Main());
    // HostCommand lives in the host module, which cannot depend on the renter's AdminClient.
    CommandLine host = Objects.requireNonNull(cmd.getSubcommands().get("host"), "host");
    host.addSubcommand(new HostStatusCommand());
    host.addSubcommand(new CommandLine(new HostPricesCommand()));
    cmd.setParameterExceptionHandler(Args.usageHandler(EXIT_USAGE));
    cmd.setExecutionStrategy(parsed -> execute(parsed, environment));
    cmd.setExecutionExceptionHandler((e, commandLine, parseResult) -> Failures.unexpected(e));
    return cmd.execute(args);
  }

  /**
   * Runs the chosen command after setting the failure output ({@code --json}, {@code --verbose}), the
   * renter config ({@code --config} and the environment; not for the daemon, whose {@code --config} is
   * its own) and, for every command but the daemon (which has {@code --log-level}), quieting the
   * libraries' own logging: gRPC logs a name-resolution failure as a warning with a stack trace, and the
   * command already reports it in one line.
   */
  private static int execute(ParseResult parsed, Function<String, @Nullable String> environment) {
    boolean verbose = matched(parsed, "--verbose");
    Failures.configure(matched(parsed, "--json"), verbose);
    ParseResult leaf = parsed;
    while (leaf.subcommand() != null) {
      leaf = leaf.subcommand();
    }
    boolean daemon = leaf.commandSpec().userObject() instanceof HostCommand;
    Path configFile = daemon ? null : leaf.matchedOptionValue(ConfigArgs.OPTION, (Path) null);
    RenterConfig.configure(configFile, environment);
    if (!daemon) {
      Logging.configure(verbose ? "warn" : "error");
    }
    return new CommandLine.RunLast().execute(parsed);
  }

  /** Whether {@code option} was given to the command or to any of its subcommands. */
  private static boolean matched(ParseResult parsed, String option) {
    for (ParseResult p = parsed; p != null; p = p.subcommand()) {
      if (p.hasMatchedOption(option)) {
        return true;
      }
    }
    return false;
  }
}
