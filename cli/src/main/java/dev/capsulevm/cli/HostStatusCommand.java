package dev.capsulevm.cli;

import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.proto.v1.StatusResponse;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.PeerStatus;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code capsulevm host status}: the daemon's {@code Admin.Status}, with each sync peer's last session.
 * {@link Main} hangs it under {@code host}, whose command lives in the host module, which cannot see
 * the renter's {@link AdminClient}.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Show the running host's status (Admin service): key, listen addresses, data directory, store size,"
        + " counters, price table, and each sync peer's last session.")
final class HostStatusCommand implements Callable<Integer> {
  @Mixin AdminArgs adminArgs;

  @Mixin ClientTlsArgs tls;

  @Option(names = "--json", description = "Print one JSON object instead of readable text.")
  boolean json;

  @Override
  public Integer call() {
    return CapsuleCommand.guarded(() -> {
      try (AdminClient admin = adminArgs.connect(adminArgs.token(), tls)) {
        StatusResponse status = admin.status();
        List<PeerStatus> peers = AdminClient.peers(status);
        PriceTable table = AdminClient.priceTable(status);
        String key = HexFormat.of().formatHex(status.getHostKey().toByteArray());
        String metrics = status.getMetricsAddress().isEmpty() ? null : status.getMetricsAddress();
        if (json) {
          List<Object> list = new ArrayList<>();
          peers.forEach(p -> list.add(json(p)));
          System.out.println(new Json().put("hostKey", key).put("version", status.getVersion())
              .put("address", status.getAddress()).put("adminAddress", status.getAdminAddress())
              .put("metricsAddress", metrics).put("tls", status.getTls())
              .put("dataDirectory", status.getDataDirectory()).put("storeBytes", status.getStoreBytes())
              .put("storeMapBytes", status.getStoreMapBytes()).put("storeMaxMapBytes", status.getStoreMaxMapBytes())
              .put("capsules", status.getCapsules()).put("programsRun", status.getProgramsRun())
              .put("programsRunning", status.getProgramsRunning()).put("uptimeSeconds", status.getUptimeSeconds())
              .put("priceTable", PriceFields.json(table)).put("peers", list));
        } else {
          System.out.println("host     " + key + " (version " + status.getVersion() + ", up "
              + status.getUptimeSeconds() + " s)");
          System.out.println("listens  " + status.getAddress() + " (Host, Sync), admin " + status.getAdminAddress()
              + ", metrics " + (metrics == null ? "off" : metrics) + "; " + (status.getTls() ? "TLS on every port" : "plaintext"));
          System.out.println("data     " + status.getDataDirectory());
          System.out.println("store    " + SyncDisplay.bytes(status.getStoreBytes()) + " in data.mdb ("
              + status.getStoreBytes() + " B), map " + SyncDisplay.bytes(status.getStoreMapBytes()) + " of at most "
              + SyncDisplay.bytes(status.getStoreMaxMapBytes()));
          System.out.println("capsules " + status.getCapsules() + "; programs run " + status.getProgramsRun()
              + ", running " + status.getProgramsRunning());
          if (peers.isEmpty()) {
            System.out.println("peers    none");
          }
          peers.forEach(p -> System.out.println(line(p)));
          PriceFields.summary(table).forEach(System.out::println);
        }
        return 0;
      }
    });
  }

  /** One peer: {@code peer ADDR  [key KEY  ]last WHEN OUTCOME, BYTES, N records; S sessions, F failed[; backoff until T]}. */
  static String line(PeerStatus p) {
    StringBuilder out = new StringBuilder("peer     ").append(p.address()).append("  ");
    if (p.keyOrNull() != null) {
      out.append("key ").append(p.keyOrNull().toHex()).append("  ");
    }
    if (p.lastSessionOrNull() == null) {
      out.append("never synced");
    } else {
      out.append("last ").append(when(p.lastSessionOrNull())).append(' ')
          .append(p.lastOutcomeOrNull() == null ? SyncDisplay.NO_OUTCOME : p.lastOutcomeOrNull().name())
          .append(", ").append(SyncDisplay.bytes(p.lastBytes())).append(", ").append(p.lastRecords())
          .append(p.lastRecords() == 1 ? " record" : " records");
      if (p.lastErrorOrNull() != null) {
        out.append(" (").append(p.lastErrorOrNull()).append(')');
      }
    }
    out.append("; ").append(p.sessions()).append(p.sessions() == 1 ? " session, " : " sessions, ")
        .append(p.failures()).append(" failed");
    if (p.backoffUntilOrNull() != null) {
      out.append("; backoff until ").append(when(p.backoffUntilOrNull()));
    }
    return out.toString();
  }

  static Json json(PeerStatus p) {
    return new Json().put("address", p.address()).put("key", p.keyOrNull() == null ? null : p.keyOrNull().toHex())
        .put("lastSession", p.lastSessionOrNull() == null ? null : p.lastSessionOrNull().toString())
        .put("lastOutcome", p.lastOutcomeOrNull() == null ? null : p.lastOutcomeOrNull().name())
        .put("lastError", p.lastErrorOrNull()).put("lastBytes", p.lastBytes()).put("lastRecords", p.lastRecords())
        .put("sessions", p.sessions()).put("failures", p.failures())
        .put("backoffUntil", p.backoffUntilOrNull() == null ? null : p.backoffUntilOrNull().toString());
  }

  private static String when(Instant t) {
    return t.truncatedTo(ChronoUnit.SECONDS).toString();
  }
}
