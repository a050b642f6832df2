package dev.capsulevm.bench.runner;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Hypercore, driven through {@code bench/hypercore/shapes.js} with the machine's Node: the pinned version
 * in that folder's {@code package.json} and {@code package-lock.json}, installed with {@code npm ci} on
 * first use. Each shape runs in its own Node process, which prints one line of JSON.
 */
final class HypercoreSide {
  private static final Pattern MILLIS = Pattern.compile("\"ms\":([0-9.eE+-]+)");
  private static final Pattern VERSION = Pattern.compile("\"version\"\\s*:\\s*\"([^\"]+)\"");
  private static final long SHAPE_TIMEOUT_MINUTES = 10;

  private final Path directory;
  private final String nodeVersion;
  private final String hypercoreVersion;

  private HypercoreSide(Path directory, String nodeVersion, String hypercoreVersion) {
    this.directory = directory;
    this.nodeVersion = nodeVersion;
    this.hypercoreVersion = hypercoreVersion;
  }

  /**
   * Hypercore's side in {@code directory}, installing it with {@code npm ci} when it is not installed yet;
   * null, after one line on {@code err} saying why, when Node or npm is missing or the install fails.
   */
  static @Nullable HypercoreSide prepare(Path directory, PrintStream err) throws InterruptedException {
    Path script = directory.resolve("shapes.js");
    if (!Files.isRegularFile(script) || !Files.isRegularFile(directory.resolve("package-lock.json"))) {
      err.println("vs-hypercore: no Hypercore driver at " + script + " (run from the repository root, or set"
          + " -Dvs-hypercore.dir); skipping Hypercore's side");
      return null;
    }
    String node = outputOf(directory, List.of("node", "--version"));
    if (node == null) {
      err.println("vs-hypercore: Node.js ('node') is not installed; skipping Hypercore's side");
      return null;
    }
    Path installed = directory.resolve("node_modules").resolve("hypercore").resolve("package.json");
    if (!Files.isRegularFile(installed)) {
      if (outputOf(directory, List.of("npm", "--version")) == null) {
        err.println("vs-hypercore: npm is not installed; skipping Hypercore's side");
        return null;
      }
      err.println("vs-hypercore: installing the pinned Hypercore (npm ci --prefix " + directory + ")...");
      String log = outputOf(directory, List.of("npm", "ci", "--prefix", directory.toAbsolutePath().toString(),
          "--no-audit", "--no-fund"));
      if (log == null || !Files.isRegularFile(installed)) {
        err.println("vs-hypercore: 'npm ci' in " + directory + " failed; skipping Hypercore's side");
        return null;
      }
    }
    String version;
    try {
      Matcher m = VERSION.matcher(Files.readString(installed, StandardCharsets.UTF_8));
      version = m.find() ? m.group(1) : "?";
    } catch (IOException e) {
      version = "?";
    }
    return new HypercoreSide(directory, node.strip(), version);
  }

  String nodeVersion() {
    return nodeVersion;
  }

  String hypercoreVersion() {
    return hypercoreVersion;
  }

  /** Runs {@code shape} over {@code count} blocks of {@code blockBytes}; returns the script's timed milliseconds. */
  double run(String shape, int count, int blockBytes) throws IOException, InterruptedException {
    List<String> command = List.of("node", "shapes.js", shape, Integer.toString(count), Integer.toString(blockBytes));
    Process process = new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true).start();
    byte[] out;
    try {
      out = process.getInputStream().readAllBytes();
      if (!process.waitFor(SHAPE_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
        throw new IOException("Hypercore shape " + shape + " did not finish in " + SHAPE_TIMEOUT_MINUTES + " minutes");
      }
    } finally {
      process.destroyForcibly();
    }
    String text = new String(out, StandardCharsets.UTF_8).strip();
    Matcher m = MILLIS.matcher(text);
    if (process.exitValue() != 0 || !m.find()) {
      throw new IOException("Hypercore shape " + shape + " failed (exit " + process.exitValue() + "): " + text);
    }
    return Double.parseDouble(m.group(1));
  }

  /** What {@code command} prints when it exits 0; null when it cannot start or fails. */
  private static @Nullable String outputOf(Path directory, List<String> command) throws InterruptedException {
    try {
      Process process = new ProcessBuilder(new ArrayList<>(command)).directory(directory.toFile())
          .redirectErrorStream(true).start();
      byte[] out = process.getInputStream().readAllBytes();
      return process.waitFor() == 0 ? new String(out, StandardCharsets.UTF_8) : null;
    } catch (IOException e) {
      return null;
    }
  }
}
