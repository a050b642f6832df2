package dev.capsulevm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

/** {@code capsulevm version}: the tool's version and the format version it writes. */
@Command(name = "version", description = "Print the version.")
final class VersionCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    for (String line : Provider.lines()) {
      System.out.println(line);
    }
    return 0;
  }

  static final class Provider implements IVersionProvider {
    @Override
    public String[] getVersion() {
      return lines();
    }

    static String[] lines() {
      String version = Main.class.getPackage().getImplementationVersion();
      return new String[] {
        "capsulevm " + (version == null ? "development build" : version),
        "FORMAT.md version 5 (writes capsules of record format 1 to 3), Java " + Runtime.version()
      };
    }
  }
}
