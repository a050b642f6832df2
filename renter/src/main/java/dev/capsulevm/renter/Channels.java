package dev.capsulevm.renter;

import dev.capsulevm.proto.tls.ChannelSecurity;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.util.concurrent.TimeUnit;

/**
 * The SDK's gRPC channels: closing them (politely, then at once if calls are still running after 5 s),
 * and what a failed call says in one line.
 */
final class Channels {
  private Channels() {}

  /**
   * A failed call's status in one line: the TLS handshake's failure when that is what failed, else the
   * code, the description and the cause's message ({@code Status.toString()} holds the cause's stack trace).
   */
  static String describe(Throwable failure) {
    String tls = ChannelSecurity.handshakeFailure(failure);
    if (tls != null) {
      return tls;
    }
    Status status = Status.fromThrowable(failure);
    StringBuilder out = new StringBuilder(status.getCode().name());
    if (status.getDescription() != null) {
      out.append(": ").append(status.getDescription());
    }
    Throwable cause = status.getCause();
    if (cause != null && cause.getMessage() != null) {
      out.append(" (").append(cause.getMessage()).append(')');
    }
    return out.toString().replaceAll("\\s*\\R\\s*", " ");
  }

  static void close(ManagedChannel channel) {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
