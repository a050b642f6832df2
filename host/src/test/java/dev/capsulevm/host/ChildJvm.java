package dev.capsulevm.host;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.testing.Await;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A JVM a test kills: a main class on the test's class path, its standard error appended to a log file,
 * its standard output read line by line, so the test acts on what the child reports (its progress), not
 * after a length of time.
 */
public final class ChildJvm implements AutoCloseable {
  private final Process process;
  private final Path log;
  /** The child's lines in order, then an empty one for the end of its output. */
  private final BlockingQueue<Optional<String>> lines = new LinkedBlockingQueue<>();
  private final Thread reader;

  private ChildJvm(Process process, Path log) {
    this.process = process;
    this.log = log;
    reader = new Thread(this::read, "child-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts {@code main} with {@code args} in a JVM of at most {@code heapMegabytes} of heap. */
  public static ChildJvm start(Path log, int heapMegabytes, Class<?> main, String... args) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(List.of(java,
        "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
        "-Xmx" + heapMegabytes + "m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        main.getName()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command)
        .redirectError(ProcessBuilder.Redirect.appendTo(new File(log.toString())))
        .start();
    return new ChildJvm(process, log);
  }

  private void read() {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
        StandardCharsets.UTF_8))) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        lines.add(Optional.of(line));
      }
    } catch (IOException e) {
      // the child was killed mid-line: its output ends here
    } finally {
      lines.add(Optional.empty());
    }
  }

  /** The child's next line; fails if its output ends first, or none comes within {@link Await#DEADLINE}. */
  public String nextLine() throws InterruptedException {
    Optional<String> line = lines.poll(Await.DEADLINE.toNanos(), TimeUnit.NANOSECONDS);
    if (line == null) {
      throw new AssertionError("the child wrote nothing for " + Await.DEADLINE + "; its log: " + log());
    }
    if (line.isEmpty()) {
      lines.add(line); // every later call sees the end too
      throw new AssertionError("the child's output ended; its log: " + log());
    }
    return line.get();
  }

  /** The child's process id. */
  public long pid() {
    return process.pid();
  }

  /** Kills the child with SIGKILL and waits for it to go; returns its exit code (137 on Linux). */
  public int kill() throws InterruptedException {
    // Through the handle: Process.destroyForcibly also closes our end of the child's output, dropping the
    // lines it wrote that the reader had not read yet; the handle only sends the signal, so the reader
    // reads to the end of the pipe and rest() is complete.
    process.toHandle().destroyForcibly();
    assertTrue(process.waitFor(Await.DEADLINE.toSeconds(), TimeUnit.SECONDS), "the child is gone");
    return process.exitValue();
  }

  /** The lines the child wrote that {@link #nextLine} has not returned; complete once it was killed. */
  public List<String> rest() throws InterruptedException {
    reader.join(Await.DEADLINE.toMillis());
    List<String> out = new ArrayList<>();
    for (Optional<String> line : lines) {
      line.ifPresent(out::add);
    }
    return out;
  }

  private String log() {
    try {
      return Files.exists(log) ? Files.readString(log) : "(empty)";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
