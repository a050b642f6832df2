package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.SyncOutcome;
import dev.capsulevm.renter.SyncProgress;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code capsulevm sync}: the local daemon runs sync sessions with a peer now ({@code Admin.SyncNow}). */
@Command(name = "sync", mixinStandardHelpOptions = true,
    description = "Have the local host sync one capsule, or every capsule it holds, with a peer now; progress "
        + "goes to standard error, a summary per capsule to standard output.",
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {
      "0:every session ended EQUAL or CONVERGED",
      "1:the call failed (host unreachable, wrong token, ...)",
      "2:bad arguments",
      "4:a session FAILED, DIVERGED or REFUSED, or ended UNKNOWN (an outcome of a newer host)"})
final class SyncCommand implements Callable<Integer> {
  /** Exit code when the call worked but a session failed or left the replicas different. */
  static final int EXIT_SESSION_PROBLEM = 4;

  /** How progress is shown. */
  enum Progress { AUTO, BAR, LINES, NONE }

  @Spec CommandSpec spec;
  @Mixin AdminArgs adminArgs;

  @Mixin ClientTlsArgs tls;

  @Option(names = "--peer", required = true, paramLabel = "[KEY@]HOST:PORT", description = "The peer's public address;"
      + " KEY@ (its host key, hex) makes the host refuse a peer that proves another key.")
  String peer;

  @Option(names = "--capsule", paramLabel = "ID", description = "Only this capsule (hex); default: every capsule.")
  @Nullable String capsule;

  @Option(names = "--progress", paramLabel = "MODE", defaultValue = "AUTO",
      description = "AUTO (a bar on a terminal, else lines), BAR, LINES or NONE (default: ${DEFAULT-VALUE}).")
  Progress progress;

  @Option(names = "--json", description = "Print one JSON object instead of readable text.")
  boolean json;

  @Override
  public Integer call() {
    peer(spec, peer);
    Hash id = capsule == null ? null : Args.hash(spec, "--capsule", capsule);
    return CapsuleCommand.guarded(() -> {
      String token = adminArgs.token();
      boolean rewrite = progress == Progress.BAR || (progress == Progress.AUTO && SyncDisplay.stderrIsTerminal());
      SyncDisplay display = new SyncDisplay(System.err, rewrite);
      List<SyncProgress> sessions;
      try (AdminClient admin = adminArgs.connect(token, tls)) {
        sessions = admin.syncNow(peer, id, progress == Progress.NONE ? p -> { } : display::progress);
      } finally {
        display.finish();
      }
      print(System.out, sessions);
      return sessions.stream().anyMatch(SyncDisplay::isProblem) ? EXIT_SESSION_PROBLEM : 0;
    });
  }

  /** Prints the summary: one JSON object, or a line per session and a line of totals. */
  void print(PrintStream out, List<SyncProgress> sessions) {
    if (json) {
      List<Object> list = new ArrayList<>();
      for (SyncProgress s : sessions) {
        list.add(new Json().put("capsule", s.capsuleOrNull() == null ? null : s.capsuleOrNull().toHex())
            .put("outcome", s.outcomeOrNull() == null ? null : s.outcomeOrNull().name()).put("error", s.errorOrNull())
            .put("bytesSent", s.bytesSent()).put("bytesReceived", s.bytesReceived())
            .put("recordsSent", s.recordsSent()).put("recordsReceived", s.recordsReceived())
            .put("roundTrips", s.roundTrips()));
      }
      out.println(new Json().put("peer", peer).put("sessions", list)
          .put("ok", sessions.stream().noneMatch(SyncDisplay::isProblem)));
      return;
    }
    if (sessions.isEmpty()) {
      out.println("no capsules to sync with " + peer);
      return;
    }
    Map<SyncOutcome, Integer> counts = new EnumMap<>(SyncOutcome.class);
    int withoutOutcome = 0;
    for (SyncProgress s : sessions) {
      out.println(SyncDisplay.summary(s));
      SyncOutcome outcome = s.outcomeOrNull();
      if (outcome == null) {
        withoutOutcome++;
      } else {
        counts.merge(outcome, 1, Integer::sum);
      }
    }
    List<String> parts = new ArrayList<>();
    counts.forEach((outcome, n) -> parts.add(n + " " + outcome));
    if (withoutOutcome > 0) {
      parts.add(withoutOutcome + " " + SyncDisplay.NO_OUTCOME);
    }
    out.println(sessions.size() + " session(s) with " + peer + ": " + String.join(", ", parts));
  }

  /** Checks a {@code [KEY@]HOST:PORT} argument: a host key in hex, then an address as {@link #address}. */
  static String peer(CommandSpec spec, String text) {
    int at = text.indexOf('@');
    if (at >= 0) {
      try {
        dev.capsulevm.proofs.crypto.PublicKey.fromHex(text.substring(0, at));
      } catch (IllegalArgumentException e) {
        throw Args.usage(spec, "--peer: expected KEY@HOST:PORT with a host key of 64 hex digits, got '"
            + text.substring(0, at) + "'");
      }
    }
    address(spec, "--peer", text.substring(at + 1));
    return text;
  }

  /** Checks a {@code HOST:PORT} argument: a non-empty host and a port from 1 to 65535. */
  static String address(CommandSpec spec, String what, String text) {
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw Args.usage(spec, what + ": expected HOST:PORT, got '" + text + "'");
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw Args.usage(spec, what + ": the port is not a number in '" + text + "'");
    }
    if (port < 1 || port > 65535) {
      throw Args.usage(spec, what + ": the port must be 1 to 65535, got " + port);
    }
    return text;
  }
}
