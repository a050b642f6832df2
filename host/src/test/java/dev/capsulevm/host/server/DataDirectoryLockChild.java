package dev.capsulevm.host.server;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** The child JVM {@link DataDirectoryTest} kills: a host on the directory in its argument, until killed. */
public final class DataDirectoryLockChild {
  private DataDirectoryLockChild() {}

  public static void main(String[] args) throws Exception {
    HostServer host = HostServer.start(HostConfig.defaults(Path.of(args[0])).withPorts(0, 0).withMetricsPort(-1));
    System.out.println("serving " + host.hostKey().toHex());
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
