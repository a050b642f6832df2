package dev.capsulevm.cli;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code capsulevm completion}: the shell completion script picocli generates from the whole command tree
 * ({@link AutoComplete#bash}): every subcommand, option and enum value. One script serves bash and zsh
 * (it loads zsh's {@code bashcompinit} itself).
 */
@Command(name = "completion", mixinStandardHelpOptions = true,
    description = "Print the shell completion script for capsulevm (bash, and zsh through bashcompinit). Load it"
        + " with: source <(capsulevm completion), or save it as /etc/bash_completion.d/capsulevm.")
final class CompletionCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    System.out.print(AutoComplete.bash("capsulevm", spec.root().commandLine()));
    System.out.flush();
    return 0;
  }
}
