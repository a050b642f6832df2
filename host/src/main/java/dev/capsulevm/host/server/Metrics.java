package dev.capsulevm.host.server;

import com.sun.net.httpserver.HttpsConfigurator;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import java.util.function.DoubleSupplier;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * The host's Prometheus metrics, in a registry of its own (so several hosts in one process never share
 * counters), served over HTTP (HTTPS when the host has TLS) at {@code /metrics} when a port is configured. Names are listed in
 * host/README.md, section "Daemon".
 */
final class Metrics implements AutoCloseable {
  final PrometheusRegistry registry = new PrometheusRegistry();
  /** Programs by outcome: committed, finished (read-only), failed, refused, cancelled, rejected. */
  final Counter programs = Counter.builder().name("capsulevm_programs")
      .help("Programs by outcome").labelNames("outcome").register(registry);
  final Counter instructions = Counter.builder().name("capsulevm_instructions")
      .help("Instructions whose output was sent, by kind").labelNames("kind").register(registry);
  final Counter bytesReceived = Counter.builder().name("capsulevm_execute_received_bytes")
      .help("Serialized bytes of request messages received on Execute streams").register(registry);
  final Counter bytesSent = Counter.builder().name("capsulevm_execute_sent_bytes")
      .help("Serialized bytes of response messages sent on Execute streams").register(registry);
  final Counter errors = Counter.builder().name("capsulevm_errors")
      .help("Calls ended with an error status, by status code").labelNames("status").register(registry);
  final Counter refusals = Counter.builder().name("capsulevm_programs_refused")
      .help("Programs refused at admission (nothing taken), by reason").labelNames("reason").register(registry);
  final Counter timeouts = Counter.builder().name("capsulevm_programs_timed_out")
      .help("Programs ended DEADLINE_EXCEEDED, by reason: DATA_LATE, EXPIRED, SLOW_RENTER")
      .labelNames("reason").register(registry);
  final Counter adminRefused = Counter.builder().name("capsulevm_admin_unauthenticated")
      .help("Admin calls refused for a missing or wrong token").register(registry);
  final Gauge running = Gauge.builder().name("capsulevm_programs_running")
      .help("Programs admitted and not yet ended").register(registry);
  final Histogram latency = Histogram.builder().name("capsulevm_program_duration_seconds")
      .help("Time from a program's header to its end").register(registry);
  /** Null when the endpoint is off. */
  private final @Nullable HTTPServer http;

  /** Serves over HTTPS with {@code tlsOrNull} when given. */
  Metrics(String address, int port, @Nullable SSLContext tlsOrNull) throws IOException {
    // The JVM's and the process's own (jvm_memory_*, jvm_gc_*, jvm_threads_*, process_cpu_seconds_total,
    // process_resident_memory_bytes, ...), from the Prometheus library's standard binders.
    JvmMetrics.builder().register(registry);
    Info buildInfo = Info.builder().name("capsulevm_build_info")
        .help("The host's build: its version and the Java runtime it runs on").labelNames("version", "java_version")
        .register(registry);
    buildInfo.setLabelValues(version(), Runtime.version().toString());
    if (port < 0) {
      http = null;
      return;
    }
    HTTPServer.Builder builder = HTTPServer.builder().hostname(address).port(port).registry(registry);
    if (tlsOrNull != null) {
      builder.httpsConfigurator(new HttpsConfigurator(tlsOrNull));
    }
    http = builder.buildAndStart();
  }

  /** This build's version (the Maven project's, filtered into build.properties), or "development". */
  static String version() {
    Properties properties = new Properties();
    try (InputStream in = Metrics.class.getResourceAsStream("build.properties")) {
      if (in != null) {
        properties.load(in);
      }
    } catch (IOException e) {
      // An unreadable resource names no version.
    }
    String version = properties.getProperty("version", "");
    return version.isEmpty() || version.startsWith("${") ? "development" : version;
  }

  /**
   * Registers {@code capsulevm_uncommitted_budget_units}: the budgets held for programs whose charge is not
   * written yet ({@code held}), against the host's maxUncommittedRisk.
   */
  void uncommittedBudget(DoubleSupplier held) {
    GaugeWithCallback.builder().name("capsulevm_uncommitted_budget_units")
        .help("Budgets held in memory for programs in flight, whose charge is not written yet (units)")
        .callback(callback -> callback.call(held.getAsDouble())).register(registry);
  }

  /**
   * Registers {@code capsulevm_unsynced_charges_units}: the charges in the store's settlement journal not
   * committed yet ({@code unsynced}), which an OS crash (not a crash of the host) could lose.
   */
  void unsyncedCharges(DoubleSupplier unsynced) {
    GaugeWithCallback.builder().name("capsulevm_unsynced_charges_units")
        .help("Charges of programs that wrote nothing, journaled and not yet committed to the ledger (units)")
        .callback(callback -> callback.call(unsynced.getAsDouble())).register(registry);
  }

  /**
   * Registers the payment sessions' metrics: {@code capsulevm_payment_sessions_open} ({@code open}),
   * {@code capsulevm_payment_sessions_opened} ({@code opened}) and {@code capsulevm_programs_paid_by_ticket}
   * ({@code paid}: programs admitted on a session's ticket).
   */
  void sessions(DoubleSupplier open, DoubleSupplier opened, DoubleSupplier paid) {
    GaugeWithCallback.builder().name("capsulevm_payment_sessions_open")
        .help("Payment sessions open now").callback(callback -> callback.call(open.getAsDouble()))
        .register(registry);
    CounterWithCallback.builder().name("capsulevm_payment_sessions_opened")
        .help("Payment sessions opened since the host started")
        .callback(callback -> callback.call(opened.getAsDouble())).register(registry);
    CounterWithCallback.builder().name("capsulevm_programs_paid_by_ticket")
        .help("Programs admitted on a payment session's ticket instead of a signed withdrawal")
        .callback(callback -> callback.call(paid.getAsDouble())).register(registry);
  }

  /** The HTTP port, or -1 when the endpoint is off. */
  int port() {
    return http == null ? -1 : http.getPort();
  }

  @Override
  public void close() {
    if (http != null) {
      http.close();
    }
  }
}
