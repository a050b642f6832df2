package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.renter.PeerStatus;
import dev.capsulevm.renter.SyncOutcome;
import dev.capsulevm.renter.SyncProgress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code sync}'s rendering and argument handling, and {@code host status}'s peer lines. A run of
 * {@code sync} against a host needs the daemon's side of {@code Admin.SyncNow}, which this branch does
 * not have; {@code RenterCommandsTest} runs {@code host status} against a real host.
 */
class SyncCommandTest {
  private static final Hash CAPSULE = Hash.copyOf(filled(0xab));

  private static byte[] filled(int b) {
    byte[] out = new byte[32];
    Arrays.fill(out, (byte) b);
    return out;
  }

  private static SyncProgress running(int index, int count, String phase) {
    return new SyncProgress(CAPSULE, index, count, phase, 1536, 3 << 20, 3, 12, 2, null, null);
  }

  private static SyncProgress ended(SyncOutcome outcome, String error) {
    return new SyncProgress(CAPSULE, 4, 5, "done", 100, 2048, 0, 1, 1, outcome, error);
  }

  @Test
  void line_runningSession_showsSessionPhaseBytesRecordsAndRoundTrips() {
    assertEquals("[####------] 3/5 records: sent 1.5 KiB/3 rec, recv 3.0 MiB/12 rec, 2 trips",
        SyncDisplay.line(running(2, 5, "records")));
    String last = SyncDisplay.line(ended(SyncOutcome.CONVERGED, null));
    String longest = SyncDisplay.line(running(2, 5, "quick check"));
    assertTrue(longest.length() <= SyncDisplay.MAX_COLUMNS, "a usual line is not cut: " + longest.length());
    assertEquals("[##########] 5/5 CONVERGED: sent 100 B/0 rec, recv 2.0 KiB/1 rec, 1 trip", last);
  }

  @Test
  void bar_edges() {
    assertEquals("[----------]", SyncDisplay.bar(0, 3));
    assertEquals("[###-------]", SyncDisplay.bar(1, 3));
    assertEquals("[##########]", SyncDisplay.bar(3, 3));
    assertEquals("[----------]", SyncDisplay.bar(0, 0));
    assertEquals("[##########]", SyncDisplay.bar(7, 3));
  }

  @Test
  void bytes_binaryUnitsWithOneDecimal() {
    assertEquals("0 B", SyncDisplay.bytes(0));
    assertEquals("1023 B", SyncDisplay.bytes(1023));
    assertEquals("1.0 KiB", SyncDisplay.bytes(1024));
    assertEquals("1.5 MiB", SyncDisplay.bytes(3 << 19));
    assertEquals("8.0 EiB", SyncDisplay.bytes(Long.MAX_VALUE));
  }

  @Test
  void progress_onATerminal_rewritesOneLineAndClearsItAtTheEnd() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    SyncDisplay display = new SyncDisplay(new PrintStream(bytes, true, StandardCharsets.UTF_8), true);
    SyncProgress longer = running(2, 5, "quick check");
    SyncProgress shorter = running(2, 5, "bloom");
    display.progress(longer);
    display.progress(shorter);
    display.finish();
    String out = bytes.toString(StandardCharsets.UTF_8);
    String a = SyncDisplay.line(longer);
    String b = SyncDisplay.line(shorter);
    // The shorter line is padded over the longer one's tail, and the end blanks the line.
    assertEquals("\r" + a + "\r" + b + " ".repeat(a.length() - b.length()) + "\r" + " ".repeat(b.length()) + "\r", out);
    assertTrue(!out.contains("\n"), "no newline on a terminal");
  }

  @Test
  void progress_onATerminal_cutsALongLineSoItNeverWraps() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    SyncDisplay display = new SyncDisplay(new PrintStream(bytes, true, StandardCharsets.UTF_8), true);
    SyncProgress huge = new SyncProgress(CAPSULE, 12344, 12345, "quick check", 1L << 40, 1L << 41, 123456, 654321,
        999, null, null);
    display.progress(huge);
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals("\r" + SyncDisplay.line(huge).substring(0, SyncDisplay.MAX_COLUMNS), out);
  }

  @Test
  void progress_elsewhere_onePlainLinePerReportWithTheError() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    SyncDisplay display = new SyncDisplay(new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
    display.progress(running(0, 5, "symbols"));
    display.progress(ended(SyncOutcome.FAILED, "peer went away"));
    display.finish();
    String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
    assertEquals(2, lines.length);
    assertEquals("sync abababababababab 1/5 symbols: sent 1.5 KiB/3 rec, recv 3.0 MiB/12 rec, 2 trips",
        lines[0]);
    assertTrue(lines[1].endsWith("5/5 FAILED: sent 100 B/0 rec, recv 2.0 KiB/1 rec, 1 trip; error: peer went away"),
        lines[1]);
    assertTrue(!bytes.toString(StandardCharsets.UTF_8).contains("\r"));
  }

  @Test
  void summary_perCapsule() {
    assertEquals(CAPSULE.toHex() + "  DIVERGED  sent 100 B, received 2.0 KiB; records sent 0, received 1; 1 round trip"
        + ": refused", SyncDisplay.summary(ended(SyncOutcome.DIVERGED, "refused")));
  }

  @Test
  void isProblem_everyOutcomeButEqualAndConverged_andNone() {
    assertFalse(SyncDisplay.isProblem(ended(SyncOutcome.EQUAL, null)));
    assertFalse(SyncDisplay.isProblem(ended(SyncOutcome.CONVERGED, null)));
    assertTrue(SyncDisplay.isProblem(ended(SyncOutcome.DIVERGED, null)));
    assertTrue(SyncDisplay.isProblem(ended(SyncOutcome.FAILED, null)));
    assertTrue(SyncDisplay.isProblem(ended(SyncOutcome.REFUSED, null)));
    assertTrue(SyncDisplay.isProblem(ended(SyncOutcome.UNKNOWN, null)));
    assertTrue(SyncDisplay.isProblem(running(4, 5, "records")));
  }

  @Test
  void print_aSessionWithoutOutcome_isShownAndCountedAsNoneAndIsNotOk() {
    SyncCommand sync = new SyncCommand();
    sync.peer = "p:1";
    List<SyncProgress> sessions = List.of(ended(SyncOutcome.EQUAL, null), running(4, 5, "records"));
    ByteArrayOutputStream text = new ByteArrayOutputStream();
    sync.print(new PrintStream(text, true, StandardCharsets.UTF_8), sessions);
    String[] lines = text.toString(StandardCharsets.UTF_8).split("\n");
    assertEquals(3, lines.length);
    assertTrue(lines[1].startsWith(CAPSULE.toHex() + "  (no outcome)  sent 1.5 KiB"), lines[1]);
    assertEquals("2 session(s) with p:1: 1 EQUAL, 1 (no outcome)", lines[2]);

    sync.json = true;
    ByteArrayOutputStream json = new ByteArrayOutputStream();
    sync.print(new PrintStream(json, true, StandardCharsets.UTF_8), sessions);
    String object = json.toString(StandardCharsets.UTF_8);
    assertTrue(object.contains("\"outcome\":\"EQUAL\"") && object.contains("\"outcome\":null"), object);
    assertTrue(object.contains("\"ok\":false"), object);
  }

  @Test
  void peerLine_neverSyncedAndBackedOff() {
    assertEquals("peer     a:1  never synced; 0 sessions, 0 failed",
        HostStatusCommand.line(new PeerStatus("a:1", null, null, null, 0, 0, 0, 0, null, null)));
    assertEquals("peer     b:2  last 2023-11-14T22:13:20Z FAILED, 4.0 KiB, 1 record (timeout); 7 sessions, 3 failed;"
        + " backoff until 2023-11-14T22:14:20Z", HostStatusCommand.line(new PeerStatus("b:2",
            Instant.ofEpochMilli(1_700_000_000_123L), SyncOutcome.FAILED, "timeout", 4096, 1, 7, 3,
            Instant.ofEpochMilli(1_700_000_060_000L), null)));
    dev.capsulevm.proofs.crypto.PublicKey key = dev.capsulevm.proofs.crypto.SigningKey.generate().publicKey();
    assertEquals("peer     c:3  key " + key.toHex() + "  never synced; 0 sessions, 0 failed",
        HostStatusCommand.line(new PeerStatus("c:3", null, null, null, 0, 0, 0, 0, null, key)));
    assertEquals("{\"address\":\"a:1\",\"key\":null,\"lastSession\":null,\"lastOutcome\":null,\"lastError\":null,\"lastBytes\":0,"
        + "\"lastRecords\":0,\"sessions\":0,\"failures\":0,\"backoffUntil\":null}",
        HostStatusCommand.json(new PeerStatus("a:1", null, null, null, 0, 0, 0, 0, null, null)).toString());
  }

  @Test
  void sync_badArguments_exitTwo() {
    for (String[] args : new String[][] {
        {"sync"},
        {"sync", "--peer", "nohost"},
        {"sync", "--peer", ":7420"},
        {"sync", "--peer", "h:"},
        {"sync", "--peer", "h:port"},
        {"sync", "--peer", "h:0"},
        {"sync", "--peer", "h:65536"},
        {"sync", "--peer", "h:1", "--capsule", "zz"},
        {"sync", "--peer", "h:1", "--capsule", "00"},
        {"sync", "--peer", "h:1", "--progress", "SOMETIMES"},
        {"sync", "--peer", "nothex@h:1"},
        {"sync", "--peer", "ab".repeat(32) + "@h:port"}}) {
      Result r = run(args);
      assertEquals(2, r.exitCode(), String.join(" ", args) + ": " + r.err());
      assertTrue(r.err().startsWith("error: "), r.err());
    }
  }

  @Test
  void sync_noTokenFileOrNoDaemon_exitOneWithTheReason() throws Exception {
    Result noToken = run("sync", "--peer", "h:1", "--token-file", "/nonexistent/admin.token");
    assertEquals(1, noToken.exitCode(), noToken.err());
    assertTrue(noToken.err().contains("/nonexistent/admin.token"), noToken.err());

    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    Path token = Files.createTempFile("capsulevm-token", "");
    try {
      Files.writeString(token, "t\n");
      Result noDaemon = run("sync", "--peer", "h:1", "--admin", "127.0.0.1:" + closed, "--token-file",
          token.toString(), "--progress", "NONE");
      assertEquals(1, noDaemon.exitCode(), noDaemon.err());
      assertTrue(noDaemon.err().contains("UNAVAILABLE"), noDaemon.err());
      assertEquals("", noDaemon.out());
    } finally {
      Files.delete(token);
    }
  }

  @Test
  void hostHelp_listsStatusBesideTheDaemonOptions() {
    Result r = run("host", "--help");
    assertEquals(0, r.exitCode());
    assertTrue(r.out().contains("status") && r.out().contains("--data-dir"), r.out());
    assertEquals(2, run("host", "status", "--bogus").exitCode());
  }

  @Test
  void sync_help_listsTheExitCodes() {
    Result r = run("sync", "--help");
    assertEquals(0, r.exitCode());
    assertTrue(r.out().contains("4   a session FAILED, DIVERGED or REFUSED"), r.out());
  }
}
