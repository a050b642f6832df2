package dev.capsulevm.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code capsulevm config}: the renter config in effect ({@link RenterConfig}): which file was read, and
 * each setting with where it came from (an environment variable or the file), checked; flags given to
 * other commands override it.
 */
@Command(name = "config", mixinStandardHelpOptions = true,
    description = "Show the renter config in effect: the file read (--config, $CAPSULEVM_CONFIG, or"
        + " ~/.config/capsulevm/renter.properties) and every setting with its source, each value checked.")
final class ConfigCommand implements Callable<Integer> {
  @Mixin ConfigArgs configArgs;

  @Option(names = "--json", description = "Print one JSON object instead of readable text.")
  boolean json;

  @Override
  public Integer call() {
    RenterConfig config = RenterConfig.current();
    Path file = config.fileOrNull();
    if (json) {
      Map<String, Object> settings = new LinkedHashMap<>();
      config.settings().forEach((key, s) -> settings.put(key, new Json().put("value", s.value()).put("source", s.source())));
      System.out.println(new Json().put("file", file == null ? null : file.toString()).put("settings", settings));
    } else {
      System.out.println("file     " + (file == null ? "none (no --config, $CAPSULEVM_CONFIG or"
          + " ~/.config/capsulevm/renter.properties)" : file));
      if (config.settings().isEmpty()) {
        System.out.println("settings none: every command uses its flags and the built-in defaults");
      }
      config.settings().forEach((key, s) -> System.out.println(String.format("%-8s %s=%s  (from %s)", "setting", key,
          s.value(), s.source())));
    }
    return 0;
  }
}
