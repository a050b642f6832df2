package dev.capsulevm.host.server;

import dev.capsulevm.host.replication.Replicator;
import dev.capsulevm.host.tls.TlsIdentity;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Everything a host daemon is configured with. {@link #defaults(Path)} works with no further settings;
 * the {@code with...} methods return changed copies.
 *
 * @param dataDirectory holds the LMDB store, {@code host.key}, {@code admin.token}
 *     and {@code prices.bin}
 * @param address the Host service's bind address
 * @param port the Host service's port (0 = ephemeral)
 * @param adminAddress the Admin service's bind address (loopback by default)
 * @param adminPort the Admin service's port (0 = ephemeral)
 * @param metricsAddress the Prometheus endpoint's bind address
 * @param metricsPort the Prometheus endpoint's port (0 = ephemeral, negative = off)
 * @param maxInboundMessageBytes the largest request message accepted on any RPC
 * @param maxConcurrentPrograms programs running or awaiting a commit decision at once; beyond it
 *     Execute answers RESOURCE_EXHAUSTED (also published in the price table's limits)
 * @param maxProgramsPerAccount programs of one account running or awaiting a decision at once; beyond it
 *     Execute answers RESOURCE_EXHAUSTED naming it (a host setting, not in the price table)
 * @param reservedShare the share of {@code maxConcurrentPrograms} (rounded down) kept for accounts that
 *     run no program: an account running one may not take the last ones (docs/PROTOCOL.md, "Admission");
 *     0 to below 1
 * @param maxProgramBytes published limit: program encoding plus its data
 * @param maxInstructions published limit
 * @param maxRecordBytes published limit: the input of one CREATE_CAPSULE or APPEND_RECORD
 * @param maxSubRecordsPerRecord published limit
 * @param maxBalanceUnits published limit: the most an account may hold after a deposit
 * @param maxUncommittedRiskUnits the most the budgets of programs in flight may add up to: a program's
 *     budget is held in memory and only its cost is written, when it ends, so this is what the host may
 *     have worked for unpaid should it die; a withdrawal beyond it is refused RESOURCE_EXHAUSTED
 *     (docs/PROTOCOL.md, "Metering"). The charges journaled and not yet committed (programs that wrote
 *     nothing) never exceed it either: what an OS crash could lose (docs/PROTOCOL.md, "Settling a program")
 * @param maxBufferedBytes the most program data held for one program at once (flow control beyond it)
 * @param programsPerSecondPerAccount the steady rate of programs one account may start
 * @param programBurstPerAccount how many programs one account may start at once after idling
 * @param priceTableValidity the validity window of each signed price table; a new one is signed when
 *     less than half of the current one's window is left, and older ones stay accepted until they expire
 * @param withdrawalWindow how far ahead a withdrawal's expiry may lie (and so how long nonces are kept)
 * @param commitTimeout how long a read-write program waits for the renter's CommitDecision
 * @param firstDataTimeout how long an admitted program's renter may take to send its first data message;
 *     then the program ends DEADLINE_EXCEEDED and its slot is free (short: holding a slot costs nothing
 *     else until data arrives)
 * @param dataTimeout how long the host waits for each later data message, and an instruction for the
 *     program data it references
 * @param sendTimeout how long the host waits for a slow renter to accept the next response
 * @param shutdownGrace how long {@link HostServer#close()} lets in-flight programs finish
 * @param clock the host's clock (tests move it)
 * @param replication the sync peers, their interval, back-off and session limits (no peers by default;
 *     the Sync service always answers), and how this host verifies the peers it dials
 * @param sessions how many payment sessions may be open, per account and in all, and how long one may
 *     go unused before the host closes it (docs/PROTOCOL.md, "Payment sessions")
 * @param tlsOrNull the certificate and key every port (Host, Admin, metrics) presents in TLS; null for
 *     plaintext, which {@link HostServer#start} allows for the Admin service on loopback only
 */
public record HostConfig(
    Path dataDirectory,
    String address,
    int port,
    String adminAddress,
    int adminPort,
    String metricsAddress,
    int metricsPort,
    int maxInboundMessageBytes,
    int maxConcurrentPrograms,
    int maxProgramsPerAccount,
    double reservedShare,
    int maxProgramBytes,
    int maxInstructions,
    int maxRecordBytes,
    int maxSubRecordsPerRecord,
    long maxBalanceUnits,
    long maxUncommittedRiskUnits,
    int maxBufferedBytes,
    double programsPerSecondPerAccount,
    int programBurstPerAccount,
    Duration priceTableValidity,
    Duration withdrawalWindow,
    Duration commitTimeout,
    Duration firstDataTimeout,
    Duration dataTimeout,
    Duration sendTimeout,
    Duration shutdownGrace,
    Clock clock,
    Replicator.Settings replication,
    SessionLimits sessions,
    @Nullable TlsIdentity tlsOrNull) {

  public static final int DEFAULT_PORT = 7420;
  public static final int DEFAULT_ADMIN_PORT = 7421;
  public static final int DEFAULT_METRICS_PORT = 7422;
  /** 10,000 CAP: the budgets of many of the largest programs at once; an operator who risks less lowers it. */
  public static final long DEFAULT_MAX_UNCOMMITTED_RISK_UNITS = 10_000L * 1_000_000L;

  public HostConfig {
    Objects.requireNonNull(dataDirectory, "dataDirectory");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(adminAddress, "adminAddress");
    Objects.requireNonNull(metricsAddress, "metricsAddress");
    Objects.requireNonNull(priceTableValidity, "priceTableValidity");
    Objects.requireNonNull(withdrawalWindow, "withdrawalWindow");
    Objects.requireNonNull(commitTimeout, "commitTimeout");
    Objects.requireNonNull(firstDataTimeout, "firstDataTimeout");
    Objects.requireNonNull(dataTimeout, "dataTimeout");
    Objects.requireNonNull(sendTimeout, "sendTimeout");
    Objects.requireNonNull(shutdownGrace, "shutdownGrace");
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(replication, "replication");
    Objects.requireNonNull(sessions, "sessions");
    port("port", port);
    port("adminPort", adminPort);
    if (metricsPort > 65535) {
      throw new IllegalArgumentException("metricsPort must be at most 65535, got " + metricsPort);
    }
    positive("maxInboundMessageBytes", maxInboundMessageBytes);
    positive("maxConcurrentPrograms", maxConcurrentPrograms);
    positive("maxProgramsPerAccount", maxProgramsPerAccount);
    positive("maxProgramBytes", maxProgramBytes);
    positive("maxInstructions", maxInstructions);
    positive("maxRecordBytes", maxRecordBytes);
    positive("maxSubRecordsPerRecord", maxSubRecordsPerRecord);
    positive("maxBufferedBytes", maxBufferedBytes);
    positive("programBurstPerAccount", programBurstPerAccount);
    if (maxBalanceUnits <= 0) {
      throw new IllegalArgumentException("maxBalanceUnits must be positive, got " + maxBalanceUnits);
    }
    if (maxUncommittedRiskUnits <= 0) {
      throw new IllegalArgumentException("maxUncommittedRiskUnits must be positive, got " + maxUncommittedRiskUnits);
    }
    if (!(programsPerSecondPerAccount > 0)) {
      throw new IllegalArgumentException("programsPerSecondPerAccount must be positive");
    }
    if (maxBufferedBytes < maxInboundMessageBytes) {
      throw new IllegalArgumentException("maxBufferedBytes (" + maxBufferedBytes
          + ") must hold at least one message of maxInboundMessageBytes (" + maxInboundMessageBytes + ")");
    }
    if (!(reservedShare >= 0 && reservedShare < 1)) {
      throw new IllegalArgumentException("reservedShare must be at least 0 and below 1, got " + reservedShare);
    }
    if (firstDataTimeout.isNegative() || firstDataTimeout.isZero() || dataTimeout.isNegative()
        || dataTimeout.isZero()) {
      throw new IllegalArgumentException("firstDataTimeout and dataTimeout must be positive");
    }
    if (priceTableValidity.toSeconds() < 2) {
      throw new IllegalArgumentException("priceTableValidity must be at least 2 seconds");
    }
  }

  private static void port(String field, int value) {
    if (value < 0 || value > 65535) {
      throw new IllegalArgumentException(field + " must be 0 to 65535, got " + value);
    }
  }

  private static void positive(String field, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + " must be positive, got " + value);
    }
  }

  /** Loopback on 7420 (Host), 7421 (Admin) and 7422 (metrics), limits and timeouts for one small host. */
  public static HostConfig defaults(Path dataDirectory) {
    return new HostConfig(dataDirectory, "127.0.0.1", DEFAULT_PORT, "127.0.0.1", DEFAULT_ADMIN_PORT,
        "127.0.0.1", DEFAULT_METRICS_PORT,
        8 << 20, // maxInboundMessageBytes
        64, // maxConcurrentPrograms
        8, // maxProgramsPerAccount: eight accounts fill the host
        0.25, // reservedShare: the last 16 slots of 64
        64 << 20, // maxProgramBytes
        100_000, // maxInstructions
        16 << 20, // maxRecordBytes
        1 << 16, // maxSubRecordsPerRecord
        1_000_000L * 1_000_000L, // maxBalanceUnits: 1,000,000 CAP
        DEFAULT_MAX_UNCOMMITTED_RISK_UNITS,
        16 << 20, // maxBufferedBytes
        500.0, // programsPerSecondPerAccount
        1000, // programBurstPerAccount
        Duration.ofHours(1), // priceTableValidity
        Duration.ofHours(1), // withdrawalWindow
        Duration.ofSeconds(30), // commitTimeout
        Duration.ofSeconds(5), // firstDataTimeout
        Duration.ofSeconds(30), // dataTimeout
        Duration.ofSeconds(30), // sendTimeout
        Duration.ofSeconds(10), // shutdownGrace
        Clock.systemUTC(),
        Replicator.Settings.defaults(List.of()),
        SessionLimits.DEFAULTS,
        null); // plaintext
  }

  /**
   * A copy on these ports (0 = ephemeral). With {@code port == 0} the metrics endpoint becomes
   * ephemeral too, so that hosts started in-process on ephemeral ports never collide.
   */
  public HostConfig withPorts(int port, int adminPort) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress,
        port == 0 && metricsPort > 0 ? 0 : metricsPort, maxInboundMessageBytes, maxConcurrentPrograms,
        maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions, maxRecordBytes, maxSubRecordsPerRecord,
        maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount, programBurstPerAccount, priceTableValidity,
        withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout, sendTimeout, shutdownGrace, clock,
        replication, sessions, tlsOrNull);
  }

  /** A copy whose metrics endpoint listens on {@code metricsPort} (0 = ephemeral, negative = off). */
  public HostConfig withMetricsPort(int metricsPort) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /**
   * A copy with this per-account cap, share of slots kept for accounts running none and first-data
   * timeout (docs/PROTOCOL.md, "Admission").
   */
  public HostConfig withAdmission(int maxProgramsPerAccount, double reservedShare, Duration firstDataTimeout) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /** A copy with these timeouts. */
  public HostConfig withTimeouts(Duration commitTimeout, Duration dataTimeout, Duration sendTimeout,
      Duration shutdownGrace) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /** A copy with these program limits. */
  public HostConfig withLimits(int maxConcurrentPrograms, int maxProgramBytes, int maxInstructions,
      int maxRecordBytes) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /**
   * A copy whose budgets of programs in flight may add up to at most {@code maxUncommittedRiskUnits}
   * (docs/PROTOCOL.md, "Metering").
   */
  public HostConfig withMaxUncommittedRisk(long maxUncommittedRiskUnits) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes,
        programsPerSecondPerAccount, programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout,
        firstDataTimeout, dataTimeout, sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /** A copy with these message and program-data buffer limits. */
  public HostConfig withBuffers(int maxInboundMessageBytes, int maxBufferedBytes) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /** A copy with this per-account rate (programs per second, burst). */
  public HostConfig withRate(double programsPerSecondPerAccount, int programBurstPerAccount) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /** A copy reading time from {@code clock} with price tables valid for {@code priceTableValidity}. */
  public HostConfig withClock(Clock clock, Duration priceTableValidity) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /** A copy with these replication settings. */
  public HostConfig withReplication(Replicator.Settings replication) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /** A copy serving TLS with {@code tls} on every port, or plaintext when null. */
  public HostConfig withTls(@Nullable TlsIdentity tls) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tls);
  }

  /** A copy whose Host, Admin and metrics endpoints bind to these addresses. */
  public HostConfig withAddresses(String address, String adminAddress, String metricsAddress) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }
  /** A copy with these payment-session bounds. */
  public HostConfig withSessions(SessionLimits sessions) {
    return new HostConfig(dataDirectory, address, port, adminAddress, adminPort, metricsAddress, metricsPort,
        maxInboundMessageBytes, maxConcurrentPrograms, maxProgramsPerAccount, reservedShare, maxProgramBytes, maxInstructions,
        maxRecordBytes, maxSubRecordsPerRecord, maxBalanceUnits, maxUncommittedRiskUnits, maxBufferedBytes, programsPerSecondPerAccount,
        programBurstPerAccount, priceTableValidity, withdrawalWindow, commitTimeout, firstDataTimeout, dataTimeout,
        sendTimeout, shutdownGrace, clock, replication, sessions, tlsOrNull);
  }

  /**
   * Bounds on payment sessions (docs/PROTOCOL.md, "Payment sessions"): each open session costs the host a
   * few hundred bytes of memory and holds part of an account's balance, so their number is bounded, and one
   * unused for {@code idleTimeout} is closed (its remainder released) as one past its expiry is.
   *
   * @param maxPerAccount sessions one account may have open at once; OpenSession beyond it answers
   *     RESOURCE_EXHAUSTED
   * @param maxOpen sessions open at once on the host, all accounts together; RESOURCE_EXHAUSTED beyond it
   * @param idleTimeout how long a session may go without an admitted ticket before the host closes it
   */
  public record SessionLimits(int maxPerAccount, int maxOpen, Duration idleTimeout) {
    /** 4 per account, 10,000 in all, closed after 10 minutes unused. */
    public static final SessionLimits DEFAULTS = new SessionLimits(4, 10_000, Duration.ofMinutes(10));

    public SessionLimits {
      Objects.requireNonNull(idleTimeout, "idleTimeout");
      positive("sessions.maxPerAccount", maxPerAccount);
      positive("sessions.maxOpen", maxOpen);
      if (idleTimeout.isNegative() || idleTimeout.isZero()) {
        throw new IllegalArgumentException("sessions.idleTimeout must be positive, got " + idleTimeout);
      }
    }
  }
}
