package dev.capsulevm.bench.runner;

import dev.capsulevm.bench.TempDirectories;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Membership;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.vm.members.MemberCache;
import dev.capsulevm.vm.retention.Retention;
import dev.capsulevm.vm.storage.Batch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.jspecify.annotations.Nullable;

/**
 * A steady writer on an LMDB store, with and without a retention policy: does the data file stop
 * growing once payloads past the policy are dropped (docs/PROTOCOL.md, "Retention")?
 *
 * <p>One writer appends N records, one per commit, each of two random 4 KiB sub-records, to a version-2
 * capsule whose first record (the creator's) sets the policy; after every commit the host's retention
 * runs once ({@link Retention#run}, as the daemon runs it after commits), dropping the payloads of data
 * records more than K heights below the head. The size of {@code data.mdb} is read every N/20 records.
 * LMDB puts the pages a commit frees on its free list and reuses them for later writes, so with the policy
 * the file should level off at about K records' payloads plus every record's header and leaf hashes.
 */
final class RetentionExperiment implements Experiment {
  private static final int SUB_RECORDS = 2;
  private static final int PAYLOAD_BYTES = 4096;
  private static final int SAMPLES = 20;

  @Override
  public String name() {
    return "retention";
  }

  @Override
  public String title() {
    return "Retention: the data file under a steady writer, with and without keep-heights";
  }

  @Override
  public int steps(boolean quick) {
    return 2 * SAMPLES;
  }

  private static int records(boolean quick) {
    return quick ? 2_000 : 20_000;
  }

  private static int keep(boolean quick) {
    return quick ? 100 : 1_000;
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    int n = records(quick);
    int keep = keep(quick);
    long recordBytes = (long) SUB_RECORDS * PAYLOAD_BYTES;
    Result result = new Result(title(), "One run per configuration. A writer appends " + n + " records, one per"
        + " commit (synced), each of " + SUB_RECORDS + " random " + PAYLOAD_BYTES / 1024 + " KiB sub-records ("
        + recordBytes / 1024 + " KiB of payload per record), to a version-2 capsule on an LMDB store; after every"
        + " commit retention runs once, as the host runs it. 'keep " + keep + " heights' sets that policy in the"
        + " capsule's first record; 'no policy' keeps everything. The table gives the size of data.mdb (MiB)"
        + " after every " + n / SAMPLES + " records.");
    result.header("records written", "no policy (MiB)", "keep " + keep + " heights (MiB)", "payloads dropped");
    Result.Chart chart = result.chart("data.mdb under a steady writer", "records written", false, "data.mdb (MiB)",
        false);
    long[] none = grow(n, null, progress);
    long[] kept = grow(n, RetentionPolicy.keepHeights(keep), progress);
    for (int i = 0; i < SAMPLES; i++) {
      int written = (i + 1) * (n / SAMPLES);
      long dropped = Math.max(0, written - keep - 1);
      result.row(written, mib(none[i]), mib(kept[i]), dropped);
      chart.point("no policy", written, none[i] / 1048576.0);
      chart.point("keep " + keep + " heights", written, kept[i] / 1048576.0);
    }
    long half = kept[SAMPLES / 2 - 1];
    long end = kept[SAMPLES - 1];
    double lateGrowth = (end - half) / 1048576.0;
    double earlyGrowth = (none[SAMPLES - 1] - none[SAMPLES / 2 - 1]) / 1048576.0;
    double payloadHalf = (n / 2) * recordBytes / 1048576.0;
    result.finding(String.format("Without a policy the file grows %.1f MiB over the second half of the run, for"
        + " %.1f MiB of payloads: LMDB keeps each 4 KiB value on overflow pages of its own (two 4 KiB pages).",
        earlyGrowth, payloadHalf));
    result.finding(String.format("With keep %d heights it grows %.1f MiB over the second half, %.1f%% of that"
        + " (%.2f KiB per record): the freed payload pages are reused, and what still grows is each record's"
        + " header, signature, sub-record tree and index entries, kept by design. Goal (the data file stops"
        + " growing under a steady writer, but for what the headers keep): %s.", keep, lateGrowth,
        100 * lateGrowth / earlyGrowth, lateGrowth * 1024 / (n / 2.0), lateGrowth < 0.2 * earlyGrowth ? "met" : "missed"));
    result.finding(String.format("At the end: %s MiB without a policy against %s MiB with it.", mib(none[SAMPLES - 1]),
        mib(end)));
    return result;
  }

  private static String mib(long bytes) {
    return String.format("%.1f", bytes / 1048576.0);
  }

  /** Writes {@code n} records under {@code policyOrNull}; the size of data.mdb after each twentieth. */
  private long[] grow(int n, @Nullable RetentionPolicy policyOrNull, Progress progress) throws Exception {
    Path dir = Files.createTempDirectory("capsulevm-retention");
    long[] sizes = new long[SAMPLES];
    try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(dir)) {
      SignedMetadata metadata = SignedMetadata.sign(Metadata.createV2(Workload.CREATOR.publicKey(),
          Workload.START.toEpochMilli(), SigningPolicy.EVERY_RECORD, 16, 1 << 16, Map.of(),
          "retention " + (policyOrNull == null ? "none" : policyOrNull.value())), Workload.CREATOR);
      Writer writer = new Writer(metadata);
      try (Batch batch = store.newBatch()) {
        batch.createCapsule(metadata);
        if (policyOrNull != null) {
          batch.putRecord(writer.change(new MemberChange.SetRetention(policyOrNull)));
        }
        batch.commit();
      }
      Retention retention = new Retention(store, new MemberCache(), Clock.systemUTC(), Retention.Settings.DEFAULT);
      Random random = new Random(7);
      for (int i = 1; i <= n; i++) {
        try (Batch batch = store.newBatch()) {
          batch.putRecord(writer.data(random));
          batch.commit();
        }
        retention.run(metadata.capsuleId());
        if (i % (n / SAMPLES) == 0) {
          sizes[i / (n / SAMPLES) - 1] = Files.size(dir.resolve("data.mdb"));
          progress.step(name() + ": " + (policyOrNull == null ? "no policy" : "keep " + policyOrNull.value())
              + ", " + i + " records");
        }
      }
    } finally {
      TempDirectories.delete(dir);
    }
    return sizes;
  }

  /** Builds the creator's records on a chain, as a renter would: signed, with auth parents and member root. */
  private static final class Writer {
    private final SignedMetadata metadata;
    private final InMemoryRecordSource source = new InMemoryRecordSource();
    private final Map<Hash, Op> ops = new HashMap<>();
    private Hash last;
    private long clock = Workload.START.toEpochMilli();

    Writer(SignedMetadata metadata) {
      this.metadata = metadata;
      this.last = metadata.capsuleId();
    }

    RecordWithBody change(MemberChange change) {
      RecordWithBody built = build(List.of(change.encode()), RecordKind.MEMBERSHIP);
      ops.put(built.hash(), Membership.opOf(built.record().header(), change));
      return built;
    }

    RecordWithBody data(Random random) {
      List<byte[]> payloads = new ArrayList<>();
      for (int i = 0; i < SUB_RECORDS; i++) {
        byte[] payload = new byte[PAYLOAD_BYTES];
        random.nextBytes(payload);
        payloads.add(payload);
      }
      return build(payloads, RecordKind.DATA);
    }

    private RecordWithBody build(List<byte[]> payloads, RecordKind kind) {
      Record record = Record.buildV2(metadata.capsuleId(), List.of(last), payloads, clock++, Workload.CREATOR, true,
          kind, source, ops::get, metadata);
      source.add(record.header());
      last = record.hash();
      return new RecordWithBody(record, payloads);
    }
  }
}
