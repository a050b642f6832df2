package dev.capsulevm.bench.runner;

import dev.capsulevm.bench.TempDirectories;
import dev.capsulevm.host.replication.Replicator;
import dev.capsulevm.host.replication.SyncOutcome;
import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.store.LmdbCapsuleStorage.Durability;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.PendingAppend;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.RenterOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * capsulevm's side of {@code vs-hypercore}: a gRPC host on loopback (LMDB, commits synced or not) and one
 * renter client in this JVM, every answer verified. Capsules use the signing policy that signs once per
 * append ({@link SigningPolicy#HEARTBEAT}: the last record of each append), as Hypercore signs once per
 * append call. Each shape returns the milliseconds of its timed part. {@link #withSessions} gives a second
 * client on the same host whose programs are paid from payment sessions.
 */
final class CapsuleSide implements AutoCloseable {
  static final int BATCH = 64;

  private final Durability durability;
  private final Path dir;
  private final HostServer host;
  private final HostClient client;
  /** Whether this side started the host (and closes it); false for a {@link #withSessions} view. */
  private final boolean ownsHost;
  private final List<Path> replicaDirs = new ArrayList<>();
  private int nextReplica;

  CapsuleSide(Durability durability) throws Exception {
    this.durability = durability;
    dir = Files.createTempDirectory("capsulevm-vs-hypercore");
    host = HostServer.start(config(dir.resolve("host")), durability);
    SigningKey account = SigningKey.generate();
    try (AdminClient admin = AdminClient.connect("127.0.0.1:" + host.adminPort(), host.adminToken())) {
      admin.fund(account.publicKey(), Amount.ofCap(1_000_000));
    }
    client = HostClient.connect("127.0.0.1:" + host.port(), account, RenterOptions.defaults());
    ownsHost = true;
  }

  private CapsuleSide(CapsuleSide base, HostClient client) {
    this.durability = base.durability;
    this.dir = base.dir;
    this.host = base.host;
    this.client = client;
    this.ownsHost = false;
  }

  /**
   * This side's host with a client of its own (a new funded account) that pays from payment sessions of
   * {@code amount} ({@link RenterOptions#withSession}); closing it closes only that client. Not for
   * {@link #download}, which involves no client.
   */
  CapsuleSide withSessions(Amount amount) throws Exception {
    SigningKey account = SigningKey.generate();
    try (AdminClient admin = AdminClient.connect("127.0.0.1:" + host.adminPort(), host.adminToken())) {
      admin.fund(account.publicKey(), Amount.ofCap(1_000_000));
    }
    return new CapsuleSide(this, HostClient.connect("127.0.0.1:" + host.port(), account,
        RenterOptions.defaults().withSession(amount)));
  }

  /**
   * Loopback, ephemeral ports, no metrics, no replication peers; the per-account rate limit raised out of
   * the way (one client here sends far more than a renter usually does).
   */
  private static HostConfig config(Path dir) {
    return HostConfig.defaults(dir).withPorts(0, 0).withMetricsPort(-1).withRate(1_000_000, 1_000_000)
        .withReplication(Replicator.Settings.defaults(List.of()).withInterval(Duration.ZERO));
  }

  private CapsuleWriter newCapsule(String description) throws Exception {
    return CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(), SigningPolicy.HEARTBEAT,
        BATCH, 2L * VsHypercoreExperiment.BLOCK, description);
  }

  /** {@code count} appends of one record of one block, each awaited. */
  double appendAwaited(int count) throws Exception {
    CapsuleWriter writer = newCapsule("awaited");
    List<byte[]> blocks = InProcessHost.payloads(count, VsHypercoreExperiment.BLOCK);
    long start = System.nanoTime();
    for (byte[] block : blocks) {
      writer.append(client, List.of(block));
    }
    return millisSince(start);
  }

  /**
   * {@code count} appends of one record of one block, pipelined ({@link CapsuleWriter#submitAppend}): up to
   * {@code window} pending, each chained on the one before, sent in flights (one program for the appends
   * submitted while the flight before was on its way); the writer settles the oldest only when the window
   * is full. A window of 0 issues all of them before awaiting any.
   */
  double appendPipelined(int count, int window) throws Exception {
    CapsuleWriter writer = newCapsule("pipelined");
    List<byte[]> blocks = InProcessHost.payloads(count, VsHypercoreExperiment.BLOCK);
    long start = System.nanoTime();
    List<PendingAppend> pending = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      pending.add(writer.submitAppend(client, List.of(List.of(blocks.get(i)))));
      if (window > 0 && writer.pendingAppends() >= window) {
        pending.get(i + 1 - window).result();
      }
    }
    writer.awaitAppends();
    return millisSince(start);
  }

  /** {@code count} blocks appended 64 per append, as one record of 64 sub-records. */
  double appendBatches(int count) throws Exception {
    CapsuleWriter writer = newCapsule("batches");
    List<byte[]> blocks = InProcessHost.payloads(count, VsHypercoreExperiment.BLOCK);
    long start = System.nanoTime();
    for (int i = 0; i < count; i += BATCH) {
      writer.append(client, blocks.subList(i, Math.min(count, i + BATCH)));
    }
    return millisSince(start);
  }

  /**
   * A capsule of {@code records} records of one block each, appended 64 records per append (so every 64th
   * record, and the last, is signed): what {@link #download} and {@link #readSingle} work on.
   */
  CapsuleWriter filledCapsule(int records) throws Exception {
    CapsuleWriter writer = newCapsule("filled");
    List<byte[]> blocks = InProcessHost.payloads(records, VsHypercoreExperiment.BLOCK);
    for (int i = 0; i < records; i += BATCH) {
      List<List<byte[]>> bodies = new ArrayList<>();
      for (byte[] block : blocks.subList(i, Math.min(records, i + BATCH))) {
        bodies.add(List.of(block));
      }
      writer.appendRecords(client, bodies);
    }
    return writer;
  }

  /**
   * A new replica host (this side's durability) pulls {@code capsule} from {@code source}: one sync session
   * that reconciles, receives, verifies and stores every record (timed: the session).
   */
  double download(CapsuleSide source, Hash capsule, Hash expectedHead) throws Exception {
    Path replicaDir = dir.resolve("replica-" + nextReplica++);
    replicaDirs.add(replicaDir);
    try (HostServer replica = HostServer.start(config(replicaDir), durability)) {
      long start = System.nanoTime();
      Replicator.SessionResult result = replica.replicator()
          .syncNow("127.0.0.1:" + source.host.port(), capsule, Replicator.ProgressListener.NONE).get(0);
      double millis = millisSince(start);
      if (result.outcome() != SyncOutcome.CONVERGED) {
        throw new IllegalStateException("the replica did not converge: " + result.outcome() + " " + result.error());
      }
      List<Hash> heads;
      try (var snapshot = replica.storage().openSnapshot(capsule)) {
        heads = snapshot.heads();
      }
      if (!heads.equals(List.of(expectedHead))) {
        throw new IllegalStateException("the replica's heads are " + heads + ", not " + expectedHead);
      }
      return millis;
    } finally {
      TempDirectories.delete(replicaDir);
    }
  }

  /**
   * {@code count} programs of one verified {@code ReadSubRecord} each, of distinct records of {@code capsule}
   * spread over its heights (starting at {@code offset}), each proven from the capsule's head.
   */
  double readSingle(CapsuleWriter capsule, int count, int offset) throws Exception {
    RecordHeader head = Objects.requireNonNull(capsule.highestHead(), "the capsule was filled");
    long records = head.height();
    long stride = Math.max(1, records / count);
    long start = System.nanoTime();
    for (int i = 0; i < count; i++) {
      long height = 1 + (offset + i * stride) % records;
      ProgramBuilder b = capsule.newProgram(client);
      int read = b.readSubRecordAtHeight(height, 0, head);
      byte[] block = client.run(b.build()).output(read).payload();
      if (block.length != VsHypercoreExperiment.BLOCK) {
        throw new IllegalStateException("record " + height + " holds " + block.length + " bytes");
      }
    }
    return millisSince(start);
  }

  private static double millisSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e6;
  }

  @Override
  public void close() {
    client.close();
    if (ownsHost) {
      host.close();
      TempDirectories.delete(dir);
    }
  }
}
