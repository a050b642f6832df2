package dev.capsulevm.host.server;

import com.sun.net.httpserver.HttpsConfigurator;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
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
  final Gauge running = Gauge.builder().name("capsulevm_programs_running")
      .help("Programs admitted and not yet ended").register(registry);
  final Histogram latency = Histogram.builder().name("capsulevm_program_duration_seconds")
      .help("Time from a program's header to its end").register(registry);
  /** Null when the endpoint is off. */
  private final @Nullable HTTPServer http;

  /** Serves over HTTPS with {@code tlsOrNull} when given. */
  Metrics(String address, int port, @Nullable SSLContext tlsOrNull) throws IOException {
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
