package dev.capsulevm.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether standard output is a terminal: {@code capsule read} and {@code follow} print text there and raw
 * bytes anywhere else. Java 17 can ask that only of stdin and stdout together ({@code System.console()}),
 * so on Linux the file descriptor's link is read, as {@link SyncDisplay#stderrIsTerminal()} does for
 * standard error.
 */
final class Terminals {
  private Terminals() {}

  static boolean stdoutIsTerminal() {
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/1")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (Exception e) {
      return false; // not Linux: raw bytes, which a pipe or file wants; --text asks for text
    }
  }

  static boolean stderrIsTerminal() {
    return SyncDisplay.stderrIsTerminal();
  }
}
