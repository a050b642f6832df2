package dev.capsulevm.renter;

import dev.capsulevm.host.daemon.Logging;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestHost;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * A real host in a JVM of its own, logging everything ({@code trace}, java.util.logging bridged, so gRPC
 * and Netty too) to its standard error, which {@link HostSeesNoSecretsTest} keeps in a file: its data in the
 * directory of the first argument, on ephemeral loopback ports it reports on standard output.
 */
public final class HostChild {
  private HostChild() {}

  public static void main(String[] args) throws Exception {
    Logging.configure("trace");
    HostServer host = HostServer.start(TestHost.config(Path.of(args[0])));
    System.out.println("serving " + host.port() + " " + host.adminPort() + " " + host.adminToken());
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
