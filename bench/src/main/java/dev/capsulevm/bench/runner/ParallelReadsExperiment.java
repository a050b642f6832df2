package dev.capsulevm.bench.runner;

import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * Read-only programs in parallel: throughput and latency with 1 to 16 concurrent clients, with and
 * without a writer appending to the same capsule all the while. Each read-only program reads its own
 * snapshot, so a writer should cost readers only the machine's shared cores, never a wait.
 */
final class ParallelReadsExperiment implements Experiment {
  private static final int[] CLIENTS = {1, 2, 4, 8, 16};
  private static final int READS_PER_PROGRAM = 10;
  private static final int RECORD_SUB_RECORDS = 1000;
  private static final int PAYLOAD_BYTES = 1024;

  @Override
  public String name() {
    return "parallel";
  }

  @Override
  public String title() {
    return "Parallel read-only programs, with and without a concurrent writer";
  }

  @Override
  public int steps(boolean quick) {
    return 2 * CLIENTS.length;
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    long millis = quick ? 1_000 : 4_000;
    int runs = 3;
    Result result = new Result(title(),
        "Each reader runs programs of " + READS_PER_PROGRAM + " verified reads of 1 KiB sub-records (a record of "
            + RECORD_SUB_RECORDS + ") back to back over gRPC for " + millis + " ms; with a writer, one more client"
            + " appends one-record programs to the same capsule throughout. Throughput in verified reads per"
            + " second and program latency percentiles over all readers' programs; median of " + runs
            + " runs (range of the throughput). Each client has an account of its own; the host's per-account"
            + " rate limit is lifted (its default, 500 programs a second, would cap one client's programs).");
    result.header("writer", "clients", "reads/s", "p50 latency (ms)", "p99 latency (ms)", "writer appends/s");
    Result.Chart chart = result.chart("Read throughput against concurrent clients", "concurrent clients", true,
        "verified reads per second", false);
    double[] alone = new double[CLIENTS.length];
    double[] withWriter = new double[CLIENTS.length];
    try (InProcessHost host = new InProcessHost(CLIENTS[CLIENTS.length - 1] + 1)) {
      HostClient writerClient = host.clients.get(CLIENTS[CLIENTS.length - 1]);
      CapsuleWriter capsule = CapsuleWriter.create(writerClient, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 4096, 2 * PAYLOAD_BYTES, "parallel");
      capsule.append(writerClient, InProcessHost.payloads(RECORD_SUB_RECORDS, PAYLOAD_BYTES));
      RecordHeader anchor = Objects.requireNonNull(capsule.highestHead(), "one append");
      for (boolean writing : new boolean[] {false, true}) {
        for (int c = 0; c < CLIENTS.length; c++) {
          int n = CLIENTS[c];
          measure(host.clients.subList(0, n), capsule, anchor, writing ? writerClient : null, 300);
          double[] rates = new double[runs];
          double[] p50 = new double[runs];
          double[] p99 = new double[runs];
          double[] appends = new double[runs];
          for (int r = 0; r < runs; r++) {
            Run run = measure(host.clients.subList(0, n), capsule, anchor, writing ? writerClient : null, millis);
            rates[r] = run.reads * 1e9 / run.wallNanos;
            p50[r] = run.percentile(0.50) / 1e6;
            p99[r] = run.percentile(0.99) / 1e6;
            appends[r] = run.appends * 1e9 / run.wallNanos;
          }
          Samples rate = new Samples(rates);
          (writing ? withWriter : alone)[c] = rate.median();
          result.row(writing ? "yes" : "no", n, rate.format(0), String.format("%.2f", new Samples(p50).median()),
              String.format("%.2f", new Samples(p99).median()),
              writing ? String.format("%.0f", new Samples(appends).median()) : "");
          chart.point(writing ? "with a writer" : "readers only", n, rate.median());
          progress.step(name() + ": " + n + " clients" + (writing ? ", with a writer" : ""));
        }
      }
    }
    for (int c = 0; c < CLIENTS.length; c++) {
      result.finding(String.format("%d client(s): %,.0f verified reads/s alone, %,.0f with a writer on the same"
          + " capsule (%.0f%%).", CLIENTS[c], alone[c], withWriter[c], 100 * withWriter[c] / alone[c]));
    }
    return result;
  }

  @SuppressWarnings("ArrayRecordComponent") // never compared
  private record Run(long reads, long appends, long wallNanos, long[] latencies) {
    double percentile(double p) {
      if (latencies.length == 0) {
        return 0;
      }
      return latencies[(int) Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    }
  }

  private static Run measure(List<HostClient> readers, CapsuleWriter capsule, RecordHeader anchor,
      @Nullable HostClient writerOrNull, long millis) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(readers.size() + 1);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong appends = new AtomicLong();
    try {
      Future<?> writer = null;
      if (writerOrNull != null) {
        List<byte[]> one = InProcessHost.payloads(1, PAYLOAD_BYTES);
        writer = pool.submit(() -> {
          while (!stop.get()) {
            capsule.append(writerOrNull, one);
            appends.incrementAndGet();
          }
          return null;
        });
      }
      long start = System.nanoTime();
      long end = start + millis * 1_000_000;
      List<Future<List<Long>>> futures = new ArrayList<>();
      int offset = 0;
      for (HostClient reader : readers) {
        int first = offset++ * 97;
        futures.add(pool.submit(() -> {
          List<Long> latencies = new ArrayList<>();
          int next = first;
          while (System.nanoTime() < end) {
            long t = System.nanoTime();
            ProgramBuilder b = new ProgramBuilder(capsule.capsuleId(), capsule.metadata(), List.of(anchor),
                h -> h.equals(anchor.hash()) ? anchor : null);
            for (int i = 0; i < READS_PER_PROGRAM; i++) {
              b.readSubRecordAtHeight(anchor.height(), next++ % RECORD_SUB_RECORDS, anchor);
            }
            reader.run(b.build());
            latencies.add(System.nanoTime() - t);
          }
          return latencies;
        }));
      }
      List<Long> all = new ArrayList<>();
      for (Future<List<Long>> f : futures) {
        all.addAll(f.get());
      }
      long wall = System.nanoTime() - start;
      stop.set(true);
      if (writer != null) {
        writer.get();
      }
      long[] sorted = all.stream().mapToLong(Long::longValue).toArray();
      Arrays.sort(sorted);
      return new Run((long) sorted.length * READS_PER_PROGRAM, appends.get(), wall, sorted);
    } finally {
      pool.shutdownNow();
    }
  }
}
