package dev.capsulevm.cli;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * {@code --config FILE}: the renter config file ({@link RenterConfig}). {@link Main} reads it from the parsed
 * command line before the command runs; every renter and operator command has it once (through
 * {@link ClientTlsArgs}, or directly).
 */
final class ConfigArgs {
  /** The option's name, which {@link Main} looks for. */
  static final String OPTION = "--config";

  @Option(names = OPTION, paramLabel = "FILE",
      description = "The renter config file (default: $CAPSULEVM_CONFIG, else ~/.config/capsulevm/renter.properties"
          + " when it exists). Flags override environment variables (CAPSULEVM_HOST, ...), which override it.")
  @Nullable Path config;
}
