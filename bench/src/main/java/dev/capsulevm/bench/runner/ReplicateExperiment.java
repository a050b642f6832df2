package dev.capsulevm.bench.runner;

import dev.capsulevm.bench.TempDirectories;
import dev.capsulevm.host.replication.ReplicaDag;
import dev.capsulevm.host.replication.Replicator;
import dev.capsulevm.host.replication.SyncOutcome;
import dev.capsulevm.host.replication.SyncSession;
import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.vm.members.CapsuleMembers;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleStorage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * Replication between two real hosts over gRPC on loopback, LMDB synced to disk on both sides: a new
 * replica pulling a whole capsule, a replica catching up on 1 % new records, and replicas that are
 * already equal; beside it, the same records validated and stored locally (what the receiving host must
 * do at least), so the ratio shows what reconciliation and the transport add.
 */
final class ReplicateExperiment implements Experiment {
  private static final int RUNS = 3;
  private static final int PAYLOAD = 1024;
  private static final int BATCH = 1_000;

  @Override
  public String name() {
    return "replicate";
  }

  @Override
  public String title() {
    return "Replication between two hosts over gRPC";
  }

  @Override
  public int steps(boolean quick) {
    return 1 + 2 * RUNS;
  }


  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    int n = quick ? 10_000 : 100_000;
    int extra = n / 100;
    Path dir = Files.createTempDirectory("capsulevm-replicate");
    try {
      SignedMetadata metadata = Workload.metadata(SigningPolicy.EVERY_RECORD, "replicate");
      InMemoryRecordSource source = new InMemoryRecordSource();
      Random random = new Random(9);
      List<RecordWithBody> records = chain(metadata.capsuleId(), metadata.capsuleId(), n, source, random);
      long recordBytes = 0;
      for (RecordWithBody r : records) {
        recordBytes += AppendEncoding.encode(List.of(r)).length;
      }
      progress.step(name() + ": " + n + " signed records");
      // local ingest commits as often as a replica does (a commit per commitBytes of ready records)
      int localBatch = (int) Math.max(1, ReplicaDag.Limits.DEFAULT.commitBytes() / (recordBytes / n));

      Result result = new Result(title(), "Host A holds a capsule of " + String.format("%,d", n) + " records of one "
          + PAYLOAD + "-byte sub-record, each signed (policy EVERY_RECORD). Host B, a new replica (it does not"
          + " hold the capsule), runs one session with A (Admin's SyncNow path, `Replicator.syncNow`): it"
          + " fetches the metadata, reconciles, and receives, verifies and stores every record. A then"
          + " appends " + String.format("%,d", extra) + " records (1 %) and B syncs again (catch-up), then"
          + " once more (equal). Both hosts run in this JVM with their own LMDB stores synced to disk, over"
          + " gRPC on loopback. Local ingest is the same records validated as appends (signatures included) and"
          + " committed into a fresh store as often as the replica commits (every 8 MiB of records), without"
          + " network or reconciliation."
          + " Stream bytes are every serialized frame both ways. " + RUNS + " runs; median (range).");
      result.header("workload", "records moved", "time (ms)", "records/s", "stream bytes per record",
          "beyond the records' own bytes");

      double[] pull = new double[RUNS];
      double[] pullBytes = new double[RUNS];
      double[] catchUp = new double[RUNS];
      double[] catchUpBytes = new double[RUNS];
      double[] equal = new double[RUNS];
      double[] equalBytes = new double[RUNS];
      double[] local = new double[RUNS];
      try (HostServer a = HostServer.start(config(dir.resolve("a")))) {
        try (Batch batch = a.storage().newBatch()) {
          batch.createCapsule(metadata);
          batch.commit();
        }
        store(a.storage(), records);
        Hash tip = records.get(records.size() - 1).hash();
        String address = "127.0.0.1:" + a.port();
        for (int run = 0; run < RUNS; run++) {
          Path bDir = dir.resolve("b" + run);
          try (HostServer b = HostServer.start(config(bDir))) {
            long t0 = System.nanoTime();
            Replicator.SessionResult first = sync(b, address, metadata.capsuleId());
            pull[run] = (System.nanoTime() - t0) / 1e6;
            check(first, SyncOutcome.CONVERGED);
            pullBytes[run] = bytes(first);

            List<RecordWithBody> more = chain(metadata.capsuleId(), tip, extra, source, random);
            tip = more.get(more.size() - 1).hash();
            store(a.storage(), more);
            t0 = System.nanoTime();
            Replicator.SessionResult next = sync(b, address, metadata.capsuleId());
            catchUp[run] = (System.nanoTime() - t0) / 1e6;
            check(next, SyncOutcome.CONVERGED);
            catchUpBytes[run] = bytes(next);

            t0 = System.nanoTime();
            Replicator.SessionResult same = sync(b, address, metadata.capsuleId());
            equal[run] = (System.nanoTime() - t0) / 1e6;
            check(same, SyncOutcome.EQUAL);
            equalBytes[run] = bytes(same);
          } finally {
            TempDirectories.delete(bDir);
          }
          progress.step(name() + ": sessions, run " + (run + 1));
          Path localDir = dir.resolve("local" + run);
          // Fresh objects each run, as a replica parses them off the wire: a record keeps its signature's
          // check, so records validated in an earlier run would not be verified again.
          List<RecordWithBody> received = AppendEncoding.parse(AppendEncoding.encode(records));
          try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(localDir)) {
            long t0 = System.nanoTime();
            try (Batch batch = store.newBatch()) {
              batch.createCapsule(metadata);
              batch.commit();
            }
            CapsuleMembers members = new CapsuleMembers(metadata);
            for (int i = 0; i < received.size(); i += localBatch) {
              List<RecordWithBody> part = received.subList(i, Math.min(received.size(), i + localBatch));
              try (var snapshot = store.openSnapshot(metadata.capsuleId())) {
                members.validator(true).validateAppend(part, snapshot, members.changelog(snapshot));
              }
              try (Batch batch = store.newBatch()) {
                for (RecordWithBody r : part) {
                  batch.putRecord(r);
                }
                batch.commit();
              }
            }
            local[run] = (System.nanoTime() - t0) / 1e6;
          } finally {
            TempDirectories.delete(localDir);
          }
          progress.step(name() + ": local ingest, run " + (run + 1));
        }
      }
      double perRecord = (double) recordBytes / n;
      row(result, "new replica pulls the capsule", n, new Samples(pull), new Samples(pullBytes), perRecord);
      row(result, "catch-up on 1 % new records", extra, new Samples(catchUp), new Samples(catchUpBytes), perRecord);
      Samples eq = new Samples(equal);
      result.row("replicas already equal", 0, eq.format(1), "-", String.format("%.0f bytes in all",
          new Samples(equalBytes).median()), "-");
      Samples loc = new Samples(local);
      result.row("local ingest (validate and store, no network)", String.format("%,d", n), loc.format(0),
          String.format("%,.0f", n / (loc.median() / 1e3)), "-", "-");
      Samples pulled = new Samples(pull);
      result.finding(String.format("A new replica receives, verifies and stores %,.0f records/s (%,d records in"
          + " %,.0f ms); validating and storing the same records locally runs at %,.0f records/s, so"
          + " reconciliation, the transport and staging make the pull %.2fx the local ingest.",
          n / (pulled.median() / 1e3), n, pulled.median(), n / (loc.median() / 1e3), pulled.median() / loc.median()));
      result.finding(String.format("The stream carries %.1f bytes per record beyond the %.0f bytes of the record"
          + " itself when pulling a whole capsule (frames, the turn's ids and parents, the summaries).",
          new Samples(pullBytes).median() / n - perRecord, perRecord));
      result.finding(String.format("Catching up on %,d new records takes %,.0f ms; replicas that are already equal"
          + " finish in %.1f ms and %.0f bytes (the quick check, one round trip).", extra,
          new Samples(catchUp).median(), eq.median(), new Samples(equalBytes).median()));
      return result;
    } finally {
      TempDirectories.delete(dir);
    }
  }

  private static HostConfig config(Path dir) {
    return HostConfig.defaults(dir).withPorts(0, 0).withMetricsPort(-1)
        .withReplication(Replicator.Settings.defaults(List.of()).withInterval(Duration.ZERO));
  }

  private static List<RecordWithBody> chain(Hash capsule, Hash parent, int n, InMemoryRecordSource source,
      Random random) {
    List<RecordWithBody> out = new ArrayList<>(n);
    Hash previous = parent;
    for (int i = 0; i < n; i++) {
      byte[] payload = new byte[PAYLOAD];
      random.nextBytes(payload);
      List<byte[]> body = List.of(payload);
      Record record = Record.build(capsule, List.of(previous), body, Workload.START.toEpochMilli() + source.size(),
          Workload.WRITER, true, source);
      source.add(record.header());
      out.add(new RecordWithBody(record, body));
      previous = record.hash();
    }
    return out;
  }

  private static void store(CapsuleStorage storage, List<RecordWithBody> records) throws Exception {
    for (int i = 0; i < records.size(); i += BATCH) {
      try (Batch batch = storage.newBatch()) {
        for (RecordWithBody r : records.subList(i, Math.min(records.size(), i + BATCH))) {
          batch.putRecord(r);
        }
        batch.commit();
      }
    }
  }

  private static Replicator.SessionResult sync(HostServer replica, String peer, Hash capsule) {
    return replica.replicator().syncNow(peer, capsule, Replicator.ProgressListener.NONE).get(0);
  }

  private static void check(Replicator.SessionResult result, SyncOutcome outcome) {
    if (result.outcome() != outcome) {
      throw new IllegalStateException("expected " + outcome + ", got " + result.outcome() + " " + result.error());
    }
  }

  /** Both ways' bytes of a session that passed {@link #check}: it ran, so it reports its progress. */
  private static double bytes(Replicator.SessionResult result) {
    SyncSession.Progress p = Objects.requireNonNull(result.progress(), "a session that ended well has its progress");
    return p.bytesSent() + p.bytesReceived();
  }

  private static void row(Result result, String workload, int moved, Samples millis, Samples bytes,
      double perRecord) {
    double bytesPerRecord = bytes.median() / moved;
    result.row(workload, String.format("%,d", moved), millis.format(0),
        String.format("%,.0f", moved / (millis.median() / 1e3)), String.format("%.1f", bytesPerRecord),
        String.format("%.1f", bytesPerRecord - perRecord));
  }
}
