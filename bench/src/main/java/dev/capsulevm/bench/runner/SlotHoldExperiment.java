package dev.capsulevm.bench.runner;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Withdrawal;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.HostGrpc;
import dev.capsulevm.proto.v1.ProgramHeader;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.RenterException;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * The slot-hold attack of issue 17: one account keeps many Execute streams open that send their header
 * and nothing else, re-opening each as soon as the host ends it, while another account reads one
 * verified sub-record per program back to back. Measured on a host with the default admission (a
 * per-account cap, a short first-data timeout, slots kept for accounts running none) and on one
 * configured as hosts were before it (no useful per-account cap, 30 s to the first data message).
 */
final class SlotHoldExperiment implements Experiment {
  private static final int SUB_RECORDS = 1000;
  private static final int PAYLOAD_BYTES = 1024;

  @Override
  public String name() {
    return "slothold";
  }

  @Override
  public String title() {
    return "Slot-hold attack: another account's reads with and without it";
  }

  @Override
  public int steps(boolean quick) {
    return 4;
  }

  /** A host configuration under test. */
  private record Setup(String name, UnaryOperator<HostConfig> tune) {}

  /** What one host measured with or without the attack, over all its runs. */
  private static final class Phase {
    final double[] p50;
    final double[] p99;
    long ok;
    long failed;
    long nanos;
    long refused;
    long heldToTimeout;
    long spentUnits;
    long maxRunning;
    final List<Long> latencies = new ArrayList<>();

    /** The percentile of every successful read of every run together, in ms. */
    double pooled(double p) {
      long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
      return new Reads(sorted, 0).percentile(p) / 1e6;
    }

    Phase(int runs) {
      p50 = new double[runs];
      p99 = new double[runs];
    }
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    int streams = Integer.getInteger("slothold.streams", 200);
    long retryMillis = Long.getLong("slothold.retryMillis", 1000);
    long millis = quick ? 3_000 : 5_000;
    int runs = quick ? 5 : 7;
    Result result = new Result(title(),
        "One account (the attacker) keeps " + streams + " Execute streams open, each sending a ProgramHeader"
            + " (one HAS_RECORD over 32 declared data bytes, budget 1 CAP) and no data, over raw gRPC; a stream"
            + " the host ends is re-opened at once when it had been admitted (it held a slot), " + retryMillis
            + " ms later when it was refused. Another account (the victim) runs programs of one verified"
            + " sub-record read (1 KiB of a record of " + SUB_RECORDS + ") back to back through the SDK"
            + " (default retries: 3 on RESOURCE_EXHAUSTED/UNAVAILABLE with back-off from 100 ms). On each host,"
            + " after a warm-up, " + runs + " runs of " + millis + " ms without the attack alternate with " + runs
            + " runs with it (started 3 s before the run, cancelled after it), so that the load of this shared"
            + " machine drifts alike over both; latency percentiles of successful reads are medians over the runs"
            + " (range in brackets). Host, attacker and victim run in one JVM and share the machine's cores."
            + " 'Fair host': the defaults (64 slots, maxProgramsPerAccount 8, reservedShare 0.25 so the last 16"
            + " slots are kept for accounts running none, firstDataTimeout 5 s). 'Host as before':"
            + " maxProgramsPerAccount 64, reservedShare 0, firstDataTimeout 30 s (= dataTimeout), which is how"
            + " hosts admitted programs before.");
    result.header("host", "attack", "victim reads ok", "victim reads failed", "reads/s", "p50 latency (ms)",
        "p99 latency (ms)", "programs running at the end of the attack (most)",
        "attacker programs held to the timeout", "attacker programs refused/s",
        "attacker spend (CAP/s)");
    List<Setup> setups = List.of(
        new Setup("fair host (defaults)", c -> c),
        new Setup("host as before", c -> c.withAdmission(64, 0, Duration.ofSeconds(30))));
    String loadBefore = loadAverage();
    List<Phase[]> measured = new ArrayList<>();
    List<String> ends = new ArrayList<>();
    for (Setup setup : setups) {
      Phase[] phases = {new Phase(runs), new Phase(runs)};
      measured.add(phases);
      Map<Status.Code, Long> attackEnds = new TreeMap<>();
      try (InProcessHost host = new InProcessHost(2, setup.tune())) {
        HostClient victim = host.clients.get(0);
        HostClient attacker = host.clients.get(1);
        CapsuleWriter capsule = CapsuleWriter.create(victim, SigningKey.generate(), SigningKey.generate(),
            SigningPolicy.EVERY_RECORD, 4096, 2 * PAYLOAD_BYTES, "slothold");
        capsule.append(victim, InProcessHost.payloads(SUB_RECORDS, PAYLOAD_BYTES));
        RecordHeader anchor = Objects.requireNonNull(capsule.highestHead(), "one append");
        reads(victim, capsule, anchor, quick ? 3_000 : 5_000); // the JIT's warm-up
        for (int r = 0; r < runs; r++) {
          measure(phases[0], r, reads(victim, capsule, anchor, millis));
          long balance = attacker.balance().units();
          SlotHold attack = new SlotHold(host.address(), host.accounts.get(1), attacker.priceTable(), retryMillis);
          try {
            attack.start(streams);
            // Time for the attack to settle; with the run, longer than the fair host's firstDataTimeout.
            reads(victim, capsule, anchor, 3_000);
            long refused = attack.refused.get();
            long held = attack.heldToTimeout.get();
            long start = System.nanoTime();
            measure(phases[1], r, reads(victim, capsule, anchor, millis));
            phases[1].refused += attack.refused.get() - refused;
            phases[1].heldToTimeout += attack.heldToTimeout.get() - held;
            phases[1].nanos += System.nanoTime() - start;
            phases[1].maxRunning = Math.max(phases[1].maxRunning, host.programsRunning());
          } finally {
            attack.stop();
          }
          // The cancelled programs' budgets come back as the host settles them.
          for (int wait = 0; wait < 100 && host.programsRunning() > 0; wait++) {
            Thread.sleep(50);
          }
          attack.ends.forEach((code, n) -> attackEnds.merge(code, n.get(), Long::sum));
          phases[1].spentUnits += balance - attacker.balance().units();
        }
      }
      ends.add(setup.name() + ": " + attackEnds);
      for (boolean attacked : new boolean[] {false, true}) {
        Phase phase = phases[attacked ? 1 : 0];
        double seconds = phase.nanos / 1e9;
        result.row(setup.name(), attacked ? "yes" : "no", phase.ok, phase.failed,
            String.format("%.0f", phase.ok / (runs * millis / 1e3)),
            phase.ok == 0 ? "-" : new Samples(phase.p50).format(2),
            phase.ok == 0 ? "-" : new Samples(phase.p99).format(2),
            attacked ? phase.maxRunning : "", attacked ? phase.heldToTimeout : "", attacked ? String.format("%.0f", phase.refused / seconds) : "",
            attacked ? String.format("%.4f", phase.spentUnits / 1e6 / seconds) : "");
        progress.step(name() + ": " + setup.name() + (attacked ? ", attacked" : ""));
      }
    }
    Phase[] fair = measured.get(0);
    double alone = new Samples(fair[0].p99).median();
    double attacked = new Samples(fair[1].p99).median();
    double ratio = attacked / alone;
    result.finding(String.format("Fair host: the victim's p99 read latency is %.2f ms under the attack against"
        + " %.2f ms without it (medians of the runs), %.2fx (goal: within 2x): %s; over all runs' reads pooled,"
        + " %.2f ms against %.2f ms, %.2fx. %d of its %d reads under the attack failed.",
        attacked, alone, ratio, ratio <= 2 ? "met" : "NOT met", fair[1].pooled(0.99), fair[0].pooled(0.99),
        fair[1].pooled(0.99) / fair[0].pooled(0.99), fair[1].failed, fair[1].failed + fair[1].ok));
    Phase[] before = measured.get(1);
    result.finding(String.format("Host as before: %d of the victim's %d reads under the attack failed (the"
        + " attacker holds every slot until its 30 s timeout; the SDK's retries run out first).", before[1].failed,
        before[1].failed + before[1].ok));
    result.finding("The machine's load average (1 min, /proc/loadavg) was " + loadBefore + " at the start and "
        + loadAverage() + " at the end: absolute latencies depend on what else shares its 2 cores, which is why"
        + " the runs with and without the attack alternate.");
    result.finding("How the attacker's programs ended, by status (cancellations at the end of each run not"
        + " counted): " + String.join("; ", ends) + ".");
    return result;
  }

  private static String loadAverage() {
    try {
      String line = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg"));
      int space = line.indexOf(' ');
      return space < 0 ? line.trim() : line.substring(0, space);
    } catch (java.io.IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private static void measure(Phase phase, int run, Reads reads) {
    phase.p50[run] = reads.percentile(0.50) / 1e6;
    phase.p99[run] = reads.percentile(0.99) / 1e6;
    phase.ok += reads.latencies.length;
    for (long l : reads.latencies) {
      phase.latencies.add(l);
    }
    phase.failed += reads.failures;
  }

  @SuppressWarnings("ArrayRecordComponent") // never compared
  private record Reads(long[] latencies, long failures) {
    double percentile(double p) {
      if (latencies.length == 0) {
        return 0;
      }
      return latencies[(int) Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    }
  }

  /** One verified single read per program, back to back for {@code millis}; failures counted apart. */
  private static Reads reads(HostClient victim, CapsuleWriter capsule, RecordHeader anchor, long millis) {
    List<Long> latencies = new ArrayList<>();
    long failures = 0;
    long end = System.nanoTime() + millis * 1_000_000;
    int next = 0;
    while (System.nanoTime() < end) {
      long t = System.nanoTime();
      ProgramBuilder b = new ProgramBuilder(capsule.capsuleId(), capsule.metadata(), List.of(anchor),
          h -> h.equals(anchor.hash()) ? anchor : null);
      b.readSubRecordAtHeight(anchor.height(), next++ % SUB_RECORDS, anchor);
      try {
        victim.run(b.build());
        latencies.add(System.nanoTime() - t);
      } catch (RenterException e) {
        failures++;
      }
    }
    long[] sorted = latencies.stream().mapToLong(Long::longValue).toArray();
    Arrays.sort(sorted);
    return new Reads(sorted, failures);
  }

  /**
   * The attacker: {@code streams} Execute streams, each sending a header and then nothing, each re-opened
   * when the host ends it (at once if it had been admitted, after {@code retryMillis} if refused).
   */
  private static final class SlotHold {
    private final ManagedChannel channel;
    private final HostGrpc.HostStub stub;
    private final SigningKey account;
    private final PriceTable table;
    private final long retryMillis;
    private final byte[] program = ProgramEncoding.encode(
        new Program(null, List.of(new Instruction.HasRecord(new DataRef(0, 32))), 32));
    private final SecureRandom random = new SecureRandom();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "slothold-retry");
      t.setDaemon(true);
      return t;
    });
    private final Set<ClientCallStreamObserver<ExecuteRequest>> open = ConcurrentHashMap.newKeySet();
    private volatile boolean stopped;
    /** Programs admitted and ended by the host at its timeout (they held a slot until then). */
    final AtomicLong heldToTimeout = new AtomicLong();
    /** Programs refused at admission. */
    final AtomicLong refused = new AtomicLong();
    /** Every end by its status code. */
    final Map<Status.Code, AtomicLong> ends = new ConcurrentSkipListMap<>();

    SlotHold(String address, SigningKey account, PriceTable table, long retryMillis) {
      this.channel = Grpc.newChannelBuilder(address, InsecureChannelCredentials.create()).build();
      this.stub = HostGrpc.newStub(channel);
      this.account = account;
      this.table = table;
      this.retryMillis = retryMillis;
    }

    void start(int streams) {
      for (int i = 0; i < streams; i++) {
        open();
      }
    }

    private ExecuteRequest header() {
      Withdrawal w = new Withdrawal(account.publicKey(), Amount.ofCap(1), random.nextLong(),
          Instant.ofEpochSecond(Instant.now().getEpochSecond() + 600), table.id(), table.hostKey());
      return ExecuteRequest.newBuilder().setHeader(ProgramHeader.newBuilder()
          .setProgram(ByteString.copyFrom(program))
          .setPriceTableId(ByteString.copyFrom(table.id().toByteArray()))
          .setSignedWithdrawal(ByteString.copyFrom(w.sign(account).encode()))
          .setDurationUnits(1)).build();
    }

    private void open() {
      if (stopped) {
        return;
      }
      stub.execute(new ClientResponseObserver<ExecuteRequest, ExecuteResponse>() {
        private @Nullable ClientCallStreamObserver<ExecuteRequest> requests;
        private boolean settled;

        @Override
        public void beforeStart(ClientCallStreamObserver<ExecuteRequest> stream) {
          requests = stream;
          open.add(stream);
        }

        @Override
        public void onNext(ExecuteResponse value) {
          settled |= value.hasEnd();
        }

        @Override
        public void onError(Throwable t) {
          Status.Code code = Status.fromThrowable(t).getCode();
          if (!stopped) {
            ends.computeIfAbsent(code, k -> new AtomicLong()).incrementAndGet();
            if (code == Status.Code.DEADLINE_EXCEEDED) {
              heldToTimeout.incrementAndGet();
            }
          }
          ended(code == Status.Code.RESOURCE_EXHAUSTED && !settled);
        }

        @Override
        public void onCompleted() {
          ends.computeIfAbsent(Status.Code.OK, k -> new AtomicLong()).incrementAndGet();
          ended(false);
        }

        private void ended(boolean wasRefused) {
          open.remove(Objects.requireNonNull(requests, "started"));
          if (wasRefused && !stopped) {
            refused.incrementAndGet();
          }
          if (!wasRefused) {
            open();
            return;
          }
          try {
            ScheduledFuture<?> unused = timer.schedule(SlotHold.this::open, retryMillis, TimeUnit.MILLISECONDS);
          } catch (RejectedExecutionException e) {
            // stopped
          }
        }
      }).onNext(header());
    }

    /** Cancels every open stream (the host frees their slots) and stops re-opening. */
    void stop() throws InterruptedException {
      if (stopped) {
        return;
      }
      stopped = true;
      timer.shutdownNow();
      for (ClientCallStreamObserver<ExecuteRequest> stream : List.copyOf(open)) {
        stream.cancel("the experiment is over", null);
      }
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
