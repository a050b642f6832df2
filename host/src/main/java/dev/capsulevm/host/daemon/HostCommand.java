package dev.capsulevm.host.daemon;

import dev.capsulevm.host.replication.Replicator;
import dev.capsulevm.host.server.DataDirectoryInUseException;
import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.vm.retention.Retention;
import dev.capsulevm.host.server.InsecureAdminException;
import dev.capsulevm.host.tls.TlsIdentity;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proto.tls.CertificatePin;
import dev.capsulevm.proto.tls.ChannelSecurity;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code capsulevm host}: runs a host until SIGINT or SIGTERM. Works with no flags (data in
 * {@code ./capsulevm-data}, Host on 127.0.0.1:7420, Admin on 127.0.0.1:7421, metrics on
 * 127.0.0.1:7422). Settings come from the defaults, then {@code --config FILE} (a properties file whose
 * keys are the long option names without the dashes, e.g. {@code port=7420}), then the flags. With
 * {@code --tls-cert} and {@code --tls-key} every port (Host, Admin, metrics) speaks TLS; without them the
 * Admin service stays on loopback ({@link #EXIT_INSECURE_ADMIN} otherwise).
 */
@Command(name = "host", mixinStandardHelpOptions = true,
    description = "Runs a capsulevm host (Host and Admin gRPC services, metrics) until SIGINT/SIGTERM.",
    footer = {"Exits " + HostCommand.EXIT_DATA_DIR_IN_USE + " at once, changing nothing, when another host holds the"
        + " data directory (its lock file host.lock names that host's pid).",
        "Exits " + HostCommand.EXIT_INSECURE_ADMIN + " at once, changing nothing, when the admin address is not"
        + " loopback and the host has no TLS certificate (--tls-cert, --tls-key).",
        "Exits " + HostCommand.EXIT_START_FAILED + " with one line when it cannot start otherwise (a port in use, an"
        + " unreadable key), removing what it made; 2 for a bad option or config file."})
public final class HostCommand implements Callable<Integer> {
  /** Exit code when another host holds the data directory's lock (nothing was changed). */
  public static final int EXIT_DATA_DIR_IN_USE = 5;
  /** Exit code when the Admin service would listen beyond loopback without TLS (nothing was changed). */
  public static final int EXIT_INSECURE_ADMIN = 6;
  /** Exit code when the host could not start for another reason (a port in use, an unreadable file). */
  public static final int EXIT_START_FAILED = 1;

  @Spec
  CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE",
      description = "A properties file; keys are the option names below without the dashes.")
  Path configFile;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Data directory (default ./capsulevm-data).")
  String dataDir;

  @Option(names = "--address", description = "Host service bind address (default 127.0.0.1).")
  String address;

  @Option(names = "--port", description = "Host service port, 0 = ephemeral (default 7420).")
  String port;

  @Option(names = "--admin-address", description = "Admin service bind address (default 127.0.0.1).")
  String adminAddress;

  @Option(names = "--admin-port", description = "Admin service port, 0 = ephemeral (default 7421).")
  String adminPort;

  @Option(names = "--metrics-address", description = "Prometheus endpoint bind address (default 127.0.0.1).")
  String metricsAddress;

  @Option(names = "--metrics-port", description = "Prometheus endpoint port, 0 = ephemeral, -1 = off (default 7422).")
  String metricsPort;

  @Option(names = "--max-inbound-message-bytes", description = "Largest request message (default 8 MiB).")
  String maxInboundMessageBytes;

  @Option(names = "--max-concurrent-programs", description = "Programs in flight at once (default 64).")
  String maxConcurrentPrograms;

  @Option(names = "--max-programs-per-account", description = "Programs of one account in flight at once (default 8).")
  String maxProgramsPerAccount;

  @Option(names = "--reserved-share", description = "Share of the program slots kept for accounts running none,"
      + " 0 to below 1 (default 0.25).")
  String reservedShare;

  @Option(names = "--max-program-bytes", description = "Program encoding plus data (default 64 MiB).")
  String maxProgramBytes;

  @Option(names = "--max-instructions", description = "Instructions per program (default 100000).")
  String maxInstructions;

  @Option(names = "--max-record-bytes", description = "Input of one CREATE_CAPSULE/APPEND_RECORD (default 16 MiB).")
  String maxRecordBytes;

  @Option(names = "--max-sub-records-per-record", description = "Published limit (default 65536).")
  String maxSubRecordsPerRecord;

  @Option(names = "--max-balance-units", description = "Most an account may hold (default 10^12 units).")
  String maxBalanceUnits;

  @Option(names = "--max-uncommitted-risk-units", description = "Most the budgets of programs in flight may add up"
      + " to, held in memory until each program's cost is written; beyond it Execute answers RESOURCE_EXHAUSTED."
      + " Also the most the charges in the settlement journal not yet committed may add up to (default 10^10"
      + " units: 10,000 CAP).")
  String maxUncommittedRiskUnits;

  @Option(names = "--max-sessions-per-account", description = "Payment sessions one account may have open at once;"
      + " beyond it OpenSession answers RESOURCE_EXHAUSTED (default 4).")
  String maxSessionsPerAccount;

  @Option(names = "--max-sessions", description = "Payment sessions open at once on the host, all accounts"
      + " together (default 10000).")
  String maxSessions;

  @Option(names = "--session-idle-timeout", description = "How long a payment session may go without a ticket"
      + " before the host closes it and releases its remainder (default PT10M).")
  String sessionIdleTimeout;

  @Option(names = "--max-buffered-bytes", description = "Program data held per program (default 16 MiB).")
  String maxBufferedBytes;

  @Option(names = "--programs-per-second", description = "Per-account program rate (default 500).")
  String programsPerSecond;

  @Option(names = "--program-burst", description = "Per-account burst (default 1000).")
  String programBurst;

  @Option(names = "--price-table-validity", description = "Price table window, ISO-8601 or seconds (default PT1H).")
  String priceTableValidity;

  @Option(names = "--withdrawal-window", description = "Furthest withdrawal expiry (default PT1H).")
  String withdrawalWindow;

  @Option(names = "--storage-duration-unit", description = "How long one duration unit of paid storage lasts;"
      + " dropping payloads under a retention policy credits the units not yet begun back (default P30D).")
  String storageDurationUnit;

  @Option(names = "--commit-timeout", description = "Wait for a CommitDecision (default PT30S).")
  String commitTimeout;

  @Option(names = "--first-data-timeout", description = "Wait for an admitted program's first data message;"
      + " then DEADLINE_EXCEEDED and its slot is free (default PT5S).")
  String firstDataTimeout;

  @Option(names = "--data-timeout", description = "Wait for each later data message and for referenced program"
      + " data (default PT30S).")
  String dataTimeout;

  @Option(names = "--send-timeout", description = "Wait for a slow renter to read (default PT30S).")
  String sendTimeout;

  @Option(names = "--shutdown-grace", description = "Time in-flight programs get at shutdown (default PT10S).")
  String shutdownGrace;

  @Option(names = "--peers", paramLabel = "[KEY@]HOST:PORT[@ID+ID][,...]", description = "Sync peers,"
      + " comma-separated: HOST:PORT syncs every capsule held here, HOST:PORT@ID+ID only those capsules (hex ids);"
      + " KEY@ before either pins the peer's host key (hex): a peer proving another key is refused (default none).")
  String peers;

  @Option(names = "--sync-allow", paramLabel = "ID=KEY+KEY[,...]", description = "Only the peers with these host"
      + " keys may sync capsule ID with this host, either way; capsules not listed sync with any peer (default"
      + " none listed).")
  String syncAllow;

  @Option(names = "--sync-interval", description = "How often every peer is synced, 0 = only on demand (default PT30S).")
  String syncInterval;

  @Option(names = "--sync-sessions", description = "Sync sessions answered at once (default 2).")
  String syncSessions;

  @Option(names = "--sync-backoff", description = "First back-off after a failed session; doubles per failure (default PT5S).")
  String syncBackoff;

  @Option(names = "--sync-backoff-max", description = "Longest back-off (default PT10M).")
  String syncBackoffMax;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "PEM certificate chain (this host's first) that every"
      + " port presents in TLS; with --tls-key (default: none, plaintext).")
  String tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM private key of --tls-cert (PKCS#8 or OpenSSL's"
      + " EC/RSA form, unencrypted).")
  String tlsKey;

  @Option(names = "--peer-tls-ca", paramLabel = "FILE", description = "Reach sync peers over TLS, trusting the PEM"
      + " certificates in FILE (a CA's, or the peers' self-signed ones) (default: plaintext).")
  String peerTlsCa;

  @Option(names = "--peer-tls-pin", paramLabel = "SHA256[,SHA256...]", description = "Reach sync peers over TLS,"
      + " accepting only certificates with these SHA-256 fingerprints (default: plaintext).")
  String peerTlsPin;

  @Option(names = "--log-level", paramLabel = "LEVEL", description = "trace, debug, info, warn, error or off"
      + " (default info); debug also shows stack traces and each program.")
  String logLevel;

  /** The log level the flags or the config file asked for, or null; set by {@link #config()}. */
  private @Nullable String chosenLogLevel;

  /** Every settable key, as in the config file. */
  static final Set<String> KEYS = Set.of("data-dir", "address", "port", "admin-address", "admin-port",
      "metrics-address", "metrics-port", "max-inbound-message-bytes", "max-concurrent-programs",
      "max-programs-per-account", "reserved-share", "max-program-bytes", "max-instructions", "max-record-bytes", "max-sub-records-per-record",
      "max-balance-units", "max-buffered-bytes", "programs-per-second", "program-burst",
      "price-table-validity", "withdrawal-window", "commit-timeout", "first-data-timeout", "data-timeout",
      "send-timeout", "shutdown-grace", "peers", "sync-allow", "sync-interval", "sync-sessions", "sync-backoff",
      "sync-backoff-max", "tls-cert", "tls-key", "peer-tls-ca", "peer-tls-pin", "log-level",
      "storage-duration-unit", "max-uncommitted-risk-units", "max-sessions-per-account", "max-sessions",
      "session-idle-timeout");

  /** What {@link #config()} read from the config file and the flags, by key; the rest are defaults. */
  private Map<String, String> given = Map.of();

  /** Runs the command on its own (the {@code capsulevm} CLI registers it as a subcommand instead). */
  public static void main(String[] args) {
    System.exit(new picocli.CommandLine(new HostCommand()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    HostConfig config;
    try {
      config = config();
    } catch (IllegalArgumentException | IOException e) {
      throw new ParameterException(spec.commandLine(), OneLine.of(e), e);
    }
    // Before the host makes its first logger: slf4j-simple reads its level once.
    Logging.configure(chosenLogLevel);
    PrintWriter out = spec.commandLine().getOut();
    HostServer server;
    try {
      server = HostServer.start(config, retention);
    } catch (DataDirectoryInUseException e) {
      return fail(e, EXIT_DATA_DIR_IN_USE);
    } catch (InsecureAdminException e) {
      return fail(e, EXIT_INSECURE_ADMIN);
    } catch (IOException e) {
      // A port in use, an unreadable key or certificate: nothing was left behind (HostServer cleans up).
      return fail(e, EXIT_START_FAILED);
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      server.close();
      stopped.countDown();
    }, "capsulevm-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    Path dir = config.dataDirectory().toAbsolutePath();
    out.println("capsulevm host listening on " + config.address() + ":" + server.port());
    out.println("  host key     " + server.hostKey().toHex());
    out.println("  admin        " + config.adminAddress() + ":" + server.adminPort()
        + " (token in " + dir.resolve(HostServer.ADMIN_TOKEN_FILE) + ")");
    TlsIdentity tls = config.tlsOrNull();
    out.println("  metrics      " + (server.metricsPort() < 0 ? "off"
        : (tls == null ? "http://" : "https://") + config.metricsAddress() + ":" + server.metricsPort() + "/metrics"));
    out.println("  data         " + dir);
    out.println("  tls          " + (tls == null ? "off (plaintext)"
        : "on every port, " + tls));
    out.println("Stop with Ctrl-C (SIGINT) or SIGTERM.");
    out.flush();
    // After Logging.configure: slf4j-simple reads its level when the first logger is made.
    LoggerFactory.getLogger(HostCommand.class).info("effective configuration: {}", String.join(", ",
        effectiveSettings(config, retention, given, Logging.parseLevel(System.getProperty(
            "org.slf4j.simpleLogger.defaultLogLevel", "info"))).entrySet().stream()
            .map(e -> e.getKey() + "=" + e.getValue()).toList()));
    stopped.await();
    return 0;
  }

  private int fail(Exception e, int exitCode) {
    PrintWriter err = spec.commandLine().getErr();
    err.println("capsulevm host: " + OneLine.of(e));
    err.flush();
    return exitCode;
  }

  /** Retention's settings, set by {@link #config()} from the same flags and file. */
  private Retention.Settings retention = Retention.Settings.DEFAULT;

  /** The configuration: defaults, then the config file, then the flags. */
  HostConfig config() throws IOException {
    Map<String, String> settings = new HashMap<>();
    if (configFile != null) {
      Properties props = new Properties();
      try (InputStream in = Files.newInputStream(configFile)) {
        props.load(in);
      } catch (IOException e) {
        throw new IOException("cannot read the config file: " + OneLine.of(e), e);
      }
      Set<String> unknown = new HashSet<>(props.stringPropertyNames());
      unknown.removeAll(KEYS);
      if (!unknown.isEmpty()) {
        throw new IllegalArgumentException(configFile + ": unknown keys " + unknown + "; known keys are " + KEYS);
      }
      for (String key : props.stringPropertyNames()) {
        settings.put(key, props.getProperty(key).trim());
      }
    }
    flag(settings, "data-dir", dataDir);
    flag(settings, "address", address);
    flag(settings, "port", port);
    flag(settings, "admin-address", adminAddress);
    flag(settings, "admin-port", adminPort);
    flag(settings, "metrics-address", metricsAddress);
    flag(settings, "metrics-port", metricsPort);
    flag(settings, "max-inbound-message-bytes", maxInboundMessageBytes);
    flag(settings, "max-concurrent-programs", maxConcurrentPrograms);
    flag(settings, "max-programs-per-account", maxProgramsPerAccount);
    flag(settings, "reserved-share", reservedShare);
    flag(settings, "max-program-bytes", maxProgramBytes);
    flag(settings, "max-instructions", maxInstructions);
    flag(settings, "max-record-bytes", maxRecordBytes);
    flag(settings, "max-sub-records-per-record", maxSubRecordsPerRecord);
    flag(settings, "max-balance-units", maxBalanceUnits);
    flag(settings, "max-uncommitted-risk-units", maxUncommittedRiskUnits);
    flag(settings, "max-sessions-per-account", maxSessionsPerAccount);
    flag(settings, "max-sessions", maxSessions);
    flag(settings, "session-idle-timeout", sessionIdleTimeout);
    flag(settings, "max-buffered-bytes", maxBufferedBytes);
    flag(settings, "programs-per-second", programsPerSecond);
    flag(settings, "program-burst", programBurst);
    flag(settings, "price-table-validity", priceTableValidity);
    flag(settings, "withdrawal-window", withdrawalWindow);
    flag(settings, "commit-timeout", commitTimeout);
    flag(settings, "first-data-timeout", firstDataTimeout);
    flag(settings, "data-timeout", dataTimeout);
    flag(settings, "send-timeout", sendTimeout);
    flag(settings, "shutdown-grace", shutdownGrace);
    flag(settings, "peers", peers);
    flag(settings, "sync-allow", syncAllow);
    flag(settings, "sync-interval", syncInterval);
    flag(settings, "sync-sessions", syncSessions);
    flag(settings, "sync-backoff", syncBackoff);
    flag(settings, "sync-backoff-max", syncBackoffMax);
    flag(settings, "tls-cert", tlsCert);
    flag(settings, "tls-key", tlsKey);
    flag(settings, "peer-tls-ca", peerTlsCa);
    flag(settings, "peer-tls-pin", peerTlsPin);
    flag(settings, "log-level", logLevel);
    String level = settings.get("log-level");
    chosenLogLevel = level == null ? null : Logging.parseLevel(level);
    flag(settings, "storage-duration-unit", storageDurationUnit);
    given = Map.copyOf(settings);
    retention = retention(settings);
    return apply(HostConfig.defaults(Path.of(settings.getOrDefault("data-dir", "capsulevm-data"))), settings);
  }

  /**
   * Every setting a host runs with, by its config-file key ({@link #KEYS}, all of them), in key order: what
   * the daemon logs once at start. Files are named by path (a key file's content is never shown); the
   * admin token is not a setting (it lives in the data directory) and never appears. The limits shown are
   * what a new host publishes: a data directory with a saved price table ({@code prices.bin}, from
   * {@code SetPrices}) publishes that table's limits instead.
   *
   * @param given what the config file and the flags set, for the file paths only they hold
   */
  public static SortedMap<String, String> effectiveSettings(HostConfig c, Retention.Settings retention,
      Map<String, String> given, String logLevel) {
    SortedMap<String, String> out = new TreeMap<>();
    out.put("data-dir", c.dataDirectory().toAbsolutePath().toString());
    out.put("address", c.address());
    out.put("port", String.valueOf(c.port()));
    out.put("admin-address", c.adminAddress());
    out.put("admin-port", String.valueOf(c.adminPort()));
    out.put("metrics-address", c.metricsAddress());
    out.put("metrics-port", String.valueOf(c.metricsPort()));
    out.put("max-inbound-message-bytes", String.valueOf(c.maxInboundMessageBytes()));
    out.put("max-concurrent-programs", String.valueOf(c.maxConcurrentPrograms()));
    out.put("max-programs-per-account", String.valueOf(c.maxProgramsPerAccount()));
    out.put("reserved-share", String.valueOf(c.reservedShare()));
    out.put("max-program-bytes", String.valueOf(c.maxProgramBytes()));
    out.put("max-instructions", String.valueOf(c.maxInstructions()));
    out.put("max-record-bytes", String.valueOf(c.maxRecordBytes()));
    out.put("max-sub-records-per-record", String.valueOf(c.maxSubRecordsPerRecord()));
    out.put("max-balance-units", String.valueOf(c.maxBalanceUnits()));
    out.put("max-uncommitted-risk-units", String.valueOf(c.maxUncommittedRiskUnits()));
    out.put("max-sessions-per-account", String.valueOf(c.sessions().maxPerAccount()));
    out.put("max-sessions", String.valueOf(c.sessions().maxOpen()));
    out.put("session-idle-timeout", c.sessions().idleTimeout().toString());
    out.put("max-buffered-bytes", String.valueOf(c.maxBufferedBytes()));
    out.put("programs-per-second", String.valueOf(c.programsPerSecondPerAccount()));
    out.put("program-burst", String.valueOf(c.programBurstPerAccount()));
    out.put("price-table-validity", c.priceTableValidity().toString());
    out.put("withdrawal-window", c.withdrawalWindow().toString());
    out.put("commit-timeout", c.commitTimeout().toString());
    out.put("first-data-timeout", c.firstDataTimeout().toString());
    out.put("data-timeout", c.dataTimeout().toString());
    out.put("send-timeout", c.sendTimeout().toString());
    out.put("shutdown-grace", c.shutdownGrace().toString());
    Replicator.Settings r = c.replication();
    List<String> peerList = new ArrayList<>();
    for (Replicator.Peer p : r.peers()) {
      peerList.add((p.key() == null ? "" : p.key().toHex() + "@") + p.address()
          + (p.capsules().isEmpty() ? "" : "@" + String.join("+", p.capsules().stream().map(Hash::toHex).sorted().toList())));
    }
    out.put("peers", peerList.isEmpty() ? "none" : String.join(",", peerList));
    List<String> allowList = new ArrayList<>();
    r.allowedPeers().forEach((id, keys) -> allowList.add(id.toHex() + "="
        + String.join("+", keys.stream().map(PublicKey::toHex).sorted().toList())));
    Collections.sort(allowList);
    out.put("sync-allow", allowList.isEmpty() ? "none" : String.join(",", allowList));
    out.put("sync-interval", r.interval().toString());
    out.put("sync-sessions", String.valueOf(r.maxIncomingSessions()));
    out.put("sync-backoff", r.backoffBase().toString());
    out.put("sync-backoff-max", r.backoffMax().toString());
    TlsIdentity tls = c.tlsOrNull();
    out.put("tls-cert", tls == null ? "none (plaintext)" : given.getOrDefault("tls-cert", "given") + " (" + tls + ")");
    out.put("tls-key", tls == null ? "none" : given.getOrDefault("tls-key", "given"));
    out.put("peer-tls-ca", given.getOrDefault("peer-tls-ca", "none"));
    out.put("peer-tls-pin", given.getOrDefault("peer-tls-pin", "none"));
    out.put("log-level", logLevel);
    Duration unit = retention.durationUnitOrNull();
    out.put("storage-duration-unit", unit == null ? "none" : unit.toString());
    return out;
  }

  /** Retention's settings: the defaults with the duration unit's length from {@code storage-duration-unit}. */
  static Retention.Settings retention(Map<String, String> s) {
    Retention.Settings base = Retention.Settings.DEFAULT;
    Duration unit = duration(s, "storage-duration-unit", Objects.requireNonNull(base.durationUnitOrNull()));
    if (unit.toMillis() < 1) {
      throw new IllegalArgumentException("storage-duration-unit: a duration unit lasts at least 1 ms, got " + unit);
    }
    return new Retention.Settings(base.maxDropsPerRun(), base.maxExaminedPerRun(), unit);
  }

  private static void flag(Map<String, String> settings, String key, String value) {
    if (value != null) {
      settings.put(key, value.trim());
    }
  }

  /** {@code base} with the settings applied; a bad value names its key, an unreadable file its path. */
  static HostConfig apply(HostConfig base, Map<String, String> s) throws IOException {
    return new HostConfig(
        base.dataDirectory(),
        s.getOrDefault("address", base.address()),
        integer(s, "port", base.port()),
        s.getOrDefault("admin-address", base.adminAddress()),
        integer(s, "admin-port", base.adminPort()),
        s.getOrDefault("metrics-address", base.metricsAddress()),
        integer(s, "metrics-port", base.metricsPort()),
        integer(s, "max-inbound-message-bytes", base.maxInboundMessageBytes()),
        integer(s, "max-concurrent-programs", base.maxConcurrentPrograms()),
        integer(s, "max-programs-per-account", base.maxProgramsPerAccount()),
        decimal(s, "reserved-share", base.reservedShare()),
        integer(s, "max-program-bytes", base.maxProgramBytes()),
        integer(s, "max-instructions", base.maxInstructions()),
        integer(s, "max-record-bytes", base.maxRecordBytes()),
        integer(s, "max-sub-records-per-record", base.maxSubRecordsPerRecord()),
        longValue(s, "max-balance-units", base.maxBalanceUnits()),
        longValue(s, "max-uncommitted-risk-units", base.maxUncommittedRiskUnits()),
        integer(s, "max-buffered-bytes", base.maxBufferedBytes()),
        decimal(s, "programs-per-second", base.programsPerSecondPerAccount()),
        integer(s, "program-burst", base.programBurstPerAccount()),
        duration(s, "price-table-validity", base.priceTableValidity()),
        duration(s, "withdrawal-window", base.withdrawalWindow()),
        duration(s, "commit-timeout", base.commitTimeout()),
        duration(s, "first-data-timeout", base.firstDataTimeout()),
        duration(s, "data-timeout", base.dataTimeout()),
        duration(s, "send-timeout", base.sendTimeout()),
        duration(s, "shutdown-grace", base.shutdownGrace()),
        base.clock(),
        replication(base.replication(), s),
        new HostConfig.SessionLimits(integer(s, "max-sessions-per-account", base.sessions().maxPerAccount()),
            integer(s, "max-sessions", base.sessions().maxOpen()),
            duration(s, "session-idle-timeout", base.sessions().idleTimeout())),
        tls(base.tlsOrNull(), s));
  }

  private static @Nullable TlsIdentity tls(@Nullable TlsIdentity base, Map<String, String> s) throws IOException {
    String cert = s.get("tls-cert");
    String key = s.get("tls-key");
    if (cert == null && key == null) {
      return base;
    }
    if (cert == null || key == null) {
      throw new IllegalArgumentException("tls-cert and tls-key go together: give both or neither");
    }
    return TlsIdentity.load(Path.of(cert), Path.of(key));
  }

  private static ChannelSecurity peerSecurity(ChannelSecurity base, Map<String, String> s) throws IOException {
    String ca = s.get("peer-tls-ca");
    String pins = s.get("peer-tls-pin");
    if (ca != null && pins != null) {
      throw new IllegalArgumentException("peer-tls-ca and peer-tls-pin: give one of them, not both");
    }
    if (ca != null) {
      return ChannelSecurity.trustingCa(Path.of(ca));
    }
    if (pins != null) {
      List<CertificatePin> list = new ArrayList<>();
      for (String pin : pins.split(",", -1)) {
        try {
          list.add(CertificatePin.parse(pin));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("peer-tls-pin: " + e.getMessage(), e);
        }
      }
      return ChannelSecurity.pinning(list);
    }
    return base;
  }

  private static Replicator.Settings replication(Replicator.Settings base, Map<String, String> s)
      throws IOException {
    List<Replicator.Peer> peers = s.containsKey("peers") ? peers(s.get("peers")) : base.peers();
    Map<Hash, Set<PublicKey>> allowed = s.containsKey("sync-allow") ? allowedPeers(s.get("sync-allow"))
        : base.allowedPeers();
    return new Replicator.Settings(peers, duration(s, "sync-interval", base.interval()),
        integer(s, "sync-sessions", base.maxIncomingSessions()), duration(s, "sync-backoff", base.backoffBase()),
        duration(s, "sync-backoff-max", base.backoffMax()), base.reconcile(), base.transport(), base.staging(),
        peerSecurity(base.peerSecurity(), s), allowed);
  }

  /** {@code ID=KEY+KEY}, comma-separated: capsule ids and host keys in hex. */
  static Map<Hash, Set<PublicKey>> allowedPeers(String value) {
    Map<Hash, Set<PublicKey>> out = new HashMap<>();
    for (String entry : value.split(",", -1)) {
      String e = entry.trim();
      if (e.isEmpty()) {
        continue;
      }
      int eq = e.indexOf('=');
      if (eq < 0) {
        throw new IllegalArgumentException("sync-allow: not ID=KEY+KEY: " + e);
      }
      Hash capsule;
      try {
        capsule = Hash.fromHex(e.substring(0, eq).trim());
      } catch (RuntimeException bad) {
        throw new IllegalArgumentException("sync-allow: not a capsule id (64 hex digits): " + e.substring(0, eq));
      }
      Set<PublicKey> keys = out.computeIfAbsent(capsule, c -> new HashSet<>());
      for (String key : e.substring(eq + 1).split("\\+", -1)) {
        try {
          keys.add(PublicKey.fromHex(key.trim()));
        } catch (RuntimeException bad) {
          throw new IllegalArgumentException("sync-allow: not a host key (64 hex digits): " + key);
        }
      }
    }
    return out;
  }

  /** {@code [KEY@]HOST:PORT[@ID+ID]}, comma-separated ({@link Replicator.Peer#parse}). */
  static List<Replicator.Peer> peers(String value) {
    List<Replicator.Peer> out = new ArrayList<>();
    for (String entry : value.split(",", -1)) {
      if (entry.isBlank()) {
        continue;
      }
      try {
        out.add(Replicator.Peer.parse(entry));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("peers: " + e.getMessage(), e);
      }
    }
    return out;
  }

  private static int integer(Map<String, String> s, String key, int fallback) {
    String v = s.get(key);
    try {
      return v == null ? fallback : Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + ": not a whole number: " + v);
    }
  }

  private static long longValue(Map<String, String> s, String key, long fallback) {
    String v = s.get(key);
    try {
      return v == null ? fallback : Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + ": not a whole number: " + v);
    }
  }

  private static double decimal(Map<String, String> s, String key, double fallback) {
    String v = s.get(key);
    try {
      return v == null ? fallback : Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + ": not a number: " + v);
    }
  }

  /** ISO-8601 ({@code PT30S}) or whole seconds ({@code 30}). */
  private static Duration duration(Map<String, String> s, String key, Duration fallback) {
    String v = s.get(key);
    if (v == null) {
      return fallback;
    }
    try {
      return v.chars().allMatch(Character::isDigit) ? Duration.ofSeconds(Long.parseLong(v)) : Duration.parse(v);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(key + ": not a duration (PT30S or seconds): " + v);
    }
  }
}
