package dev.capsulevm.host.replication;

import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.proofs.Hash;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * The child JVM {@link SyncCrashTest} kills: a host that pulls one capsule from a peer, committing often,
 * and prints how many records it has stored after every turn, until it is killed. Once it has stored the
 * number of records in its last argument it stops there, so the session cannot end before the kill,
 * however slow the test is to act on the first report.
 */
public final class SyncCrashChild {
  private SyncCrashChild() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    String peer = args[1];
    Hash capsule = Hash.fromHex(args[2]);
    long stopAt = Long.parseLong(args[3]);
    var config = Replicas.config(dir);
    config = config.withReplication(config.replication().withStaging(new ReplicaDag.Limits(1 << 20, 256L << 20, 16 << 10)));
    HostServer host = HostServer.start(config);
    Replicator.SessionResult result = host.replicator().syncNow(peer, capsule, new Replicator.ProgressListener() {
      @Override
      public void progress(Hash c, int index, int count, SyncSession.Progress p) {
        System.out.println("stored " + p.recordsStored());
        System.out.flush();
        if (p.recordsStored() >= stopAt) {
          waitForTheKill();
        }
      }

      @Override
      public void ended(Hash c, int index, int count, Replicator.SessionResult r) {}
    }).get(0);
    System.out.println("ended " + result.outcome());
    System.out.flush();
    waitForTheKill();
  }

  private static void waitForTheKill() {
    try {
      new CountDownLatch(1).await();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }
}
