package dev.capsulevm.renter;

import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;

/** Closing the SDK's gRPC channels: politely, then at once if calls are still running after 5 s. */
final class Channels {
  private Channels() {}

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
