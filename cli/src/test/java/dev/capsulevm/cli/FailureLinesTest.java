package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.field;
import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every failure a user can cause ends with one line that says what was wrong (two for a usage error:
 * the message and where help is), the documented exit code, a JSON error object on standard output
 * with {@code --json}, and a stack trace only with {@code --verbose}.
 */
class FailureLinesTest {
  private static final String CAPSULE = "ab".repeat(32);

  @TempDir Path dir;

  /** The lines of standard error, none of them a stack trace's. */
  private static List<String> lines(Result result) {
    assertFalse(result.err().contains("\tat "), "no stack trace:\n" + result.err());
    return result.err().lines().filter(l -> !l.isBlank()).toList();
  }

  private static void assertOneLine(Result result, int exitCode, String contains) {
    assertEquals(exitCode, result.exitCode(), result.err());
    List<String> lines = lines(result);
    assertEquals(1, lines.size(), result.err());
    assertTrue(lines.get(0).contains(contains), lines.get(0));
  }

  private static void assertUsage(Result result, String contains) {
    assertEquals(Failures.EXIT_USAGE, result.exitCode(), result.err());
    List<String> lines = lines(result);
    assertEquals(2, lines.size(), result.err());
    assertTrue(lines.get(0).startsWith("error: ") && lines.get(0).contains(contains), lines.get(0));
    assertTrue(lines.get(1).startsWith("Try '"), lines.get(1));
  }

  /** A loopback port nobody listens on: bound, then released. */
  private static int closedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  @Test
  void aHostThatIsDownIsOneLineAndAJsonError() throws IOException {
    String host = "127.0.0.1:" + closedPort();
    Result text = run("capsule", "heads", "--capsule", CAPSULE, "--host", host, "--state", dir.toString());
    assertOneLine(text, 1, "Connection refused");

    Result json = run("capsule", "heads", "--capsule", CAPSULE, "--host", host, "--state", dir.toString(), "--json");
    assertOneLine(json, 1, "Connection refused");
    assertEquals("failed", field(json.line(), "kind"));
    assertEquals("1", field(json.line(), "exitCode"));
  }

  @Test
  void aHostNameThatDoesNotResolveIsOneLineWithoutGrpcsWarning() {
    // .invalid never resolves (RFC 6761), and fails at once.
    Result result = run("capsule", "heads", "--capsule", CAPSULE, "--host", "nonsense.invalid:7420",
        "--state", dir.toString());
    assertOneLine(result, 1, "nonsense.invalid");
  }

  @Test
  void verboseAddsTheStackTrace() {
    Result result = run("capsule", "heads", "--capsule", CAPSULE, "--host", "nonsense.invalid:7420",
        "--state", dir.toString(), "--verbose");
    assertEquals(1, result.exitCode());
    assertTrue(result.err().contains("\tat "), result.err());
  }

  @Test
  void aMissingTokenFileNamesTheFileAndTheReason() throws IOException {
    Path missing = dir.resolve("no-such.token");
    Result result = run("host", "status", "--admin", "127.0.0.1:" + closedPort(), "--token-file", missing.toString());
    assertOneLine(result, 1, missing + ": no such file or directory");
  }

  @Test
  void badLimitsAndBadArgumentsAreUsageErrors() {
    assertUsage(run("capsule", "create", "--max-sub-records", "0", "--state", dir.toString()),
        "--max-sub-records must be 1 to 4294967295, got 0");
    Result json = run("capsule", "heads", "--capsule", "zz", "--json");
    assertUsage(json, "not hex");
    assertEquals("usage", field(json.line(), "kind"));
  }

  @Test
  void aMissingConfigFileNamesTheFileAndTheReason() {
    Path missing = dir.resolve("missing.properties");
    assertUsage(run("host", "--config", missing.toString(), "--data-dir", dir.resolve("d").toString()),
        "cannot read the config file: " + missing + ": no such file or directory");
  }

  @Test
  void aPortInUseIsOneLineAndLeavesNoKeyBehind() throws IOException {
    Path data = dir.resolve("data");
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Result result = run("host", "--data-dir", data.toString(), "--port", Integer.toString(taken.getLocalPort()),
          "--admin-port", "0", "--metrics-port", "-1");
      assertOneLine(result, 1, "address already in use");
    }
    assertFalse(Files.exists(data.resolve("host.key")), "the new host key is removed");
  }

  @Test
  void aWrongWriterKeyInTheStateIsRefusedInOneLineWithItsCost() throws IOException {
    try (RenterStatesOnHost host = new RenterStatesOnHost("failure-lines")) {
      host.fund("alice");
      Result created = host.as("alice", "capsule", "create", "--json");
      assertEquals(0, created.exitCode(), created.err());
      String capsule = field(created.line(), "capsule");
      assertEquals(0, host.as("alice", "capsule", "append", "--capsule", capsule, "first").exitCode());
      // Someone replaced the writer key with a key that is no member of the capsule.
      Path writerKey = host.state("alice").resolve("capsules").resolve(capsule).resolve("writer.pem");
      Files.delete(writerKey);
      KeyFile.write(SigningKey.generate(), writerKey);

      Result append = host.as("alice", "capsule", "append", "--capsule", capsule, "hello", "--json");
      assertOneLine(append, CapsuleCommand.EXIT_NOT_ALLOWED, "not allowed");
      assertEquals("not-allowed", field(append.line(), "kind"));

      Result notFound = host.as("alice", "capsule", "read", "--capsule", capsule, "--record", "cd".repeat(32),
          "--json");
      assertOneLine(notFound, 1, "capsulevm: ");
      assertTrue(notFound.line().contains("\"costUnits\":"), "a failed program's cost: " + notFound.line());
    }
  }
}
