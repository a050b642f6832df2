package dev.capsulevm.bench.runner;

import com.sun.management.OperatingSystemMXBean;
import dev.capsulevm.bench.TempDirectories;
import dev.capsulevm.host.replication.Replicator;
import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.store.LmdbCapsuleStorage.Durability;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.PendingAppend;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RenterOptions;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;

/**
 * The hot path of one client, for profiling and before/after runs: a host on loopback (LMDB synced or
 * not) and one renter client in this JVM; rounds of {@code count} appends of one 1 KiB record each,
 * awaited one by one, and of {@code count} single verified sub-record reads, one program each. Prints, per
 * round and shape, operations per second and the median and 90th percentile latency. Run it under JFR to
 * see where the time of one operation goes:
 *
 * <pre>
 * java --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
 *   -XX:StartFlightRecording=filename=hot.jfr,settings=profile -cp bench/target/benchmarks.jar \
 *   dev.capsulevm.bench.runner.HotPathProbe append sync 2000 3
 * </pre>
 *
 * Arguments: {@code append|read|both|pipe|pipeonly} ({@code pipe}: appends awaited one by one and pipelined
 * ones, {@link CapsuleWriter#submitAppend} with {@code probe.window} pending, default 32, alternating which
 * goes first; {@code pipeonly}: the pipelined ones alone; or {@code hops}: bare gRPC round trips with and without gRPC's
 * executors), {@code sync|nometasync|nosync}, operations per round, rounds (one untimed warm-up round of a
 * quarter of the operations comes first). System properties: {@code probe.timeline=true} prints the median
 * gap between the client's marks of each program (its messages sent and received, as a client interceptor
 * sees them; for {@code pipe}, the gaps between the marks of consecutive pipelined programs), {@code probe.threads=true} the CPU time per operation of each thread (Linux), and
 * {@code probe.jfr=FILE} records the rounds after {@code probe.jfrAfter} with the JFR settings
 * {@code probe.jfc} (default {@code profile}), {@code probe.appendBlocks} how many 1 KiB sub-records each
 * awaited append's record holds (default 1), {@code probe.readsPerProgram} how many sub-records a read
 * program reads (default 1), and {@code probe.session=CAP} pays every program from payment sessions of that
 * many CAP instead of a signed withdrawal each.
 */
public final class HotPathProbe {
  private static final int BLOCK = 1024;
  private static final int READ_RECORD = 1000;
  /** Sub-records each read program reads ({@code probe.readsPerProgram}, default 1). */
  private static final int READS_PER_PROGRAM = Integer.getInteger("probe.readsPerProgram", 1);
  /** Sub-records (1 KiB blocks) in each awaited append's record ({@code probe.appendBlocks}, default 1). */
  private static final int APPEND_BLOCKS = Integer.getInteger("probe.appendBlocks", 1);

  private HotPathProbe() {}

  public static void main(String[] args) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    String shapes = args.length > 0 ? args[0] : "both";
    if (shapes.equals("hops")) {
      for (int i = 0; i < 3; i++) {
        hopCost(args.length > 2 ? Integer.parseInt(args[2]) : 5000);
      }
      return;
    }
    String mode = args.length > 1 ? args[1] : "sync";
    Durability durability = mode.equals("nosync") ? Durability.NO_SYNC
        : mode.equals("nometasync") ? Durability.NO_META_SYNC : Durability.SYNC;
    int count = args.length > 2 ? Integer.parseInt(args[2]) : 1000;
    int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
    Path dir = Files.createTempDirectory("capsulevm-hotpath");
    try (HostServer host = HostServer.start(HostConfig.defaults(dir.resolve("host")).withPorts(0, 0)
        .withMetricsPort(-1).withRate(1_000_000, 1_000_000)
        .withReplication(Replicator.Settings.defaults(List.of()).withInterval(Duration.ZERO)), durability)) {
      SigningKey account = SigningKey.generate();
      try (AdminClient admin = AdminClient.connect("127.0.0.1:" + host.adminPort(), host.adminToken())) {
        admin.fund(account.publicKey(), Amount.ofCap(1_000_000));
      }
      Timeline timeline = new Timeline();
      RenterOptions options = RenterOptions.defaults();
      String session = System.getProperty("probe.session");
      if (session != null) {
        options = options.withSession(Amount.ofCap(Long.parseLong(session)));
      }
      // -Dprobe.streams=false: each program on its own Execute call (the timeline sees only those).
      options = options.withProgramStreams(!TIMELINE && Boolean.parseBoolean(System.getProperty("probe.streams", "true")));
      CallTimes calls = new CallTimes();
      if (TIMELINE) {
        options = options.withInterceptors(List.of(timeline, calls));
      }
      try (HostClient client = HostClient.connect("127.0.0.1:" + host.port(), account, options)) {
        CapsuleWriter appends = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
            SigningPolicy.EVERY_RECORD, 64, 2L * BLOCK, "hotpath appends");
        CapsuleWriter reads = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
            SigningPolicy.EVERY_RECORD, 4096, 2L * BLOCK, "hotpath reads");
        reads.append(client, InProcessHost.payloads(READ_RECORD, BLOCK));
        boolean pipe = shapes.startsWith("pipe");
        boolean doAppends = !shapes.equals("read") && !shapes.equals("pipeonly");
        boolean doReads = !shapes.equals("append") && !pipe;
        CapsuleWriter pipelined = pipe ? CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
            SigningPolicy.EVERY_RECORD, 64, 2L * BLOCK, "hotpath pipelined") : null;
        List<byte[]> blocks = InProcessHost.payloads(count, BLOCK);
        int[] next = {0};
        String jfr = System.getProperty("probe.jfr");
        int jfrAfter = Integer.getInteger("probe.jfrAfter", 0);
        Recording recording = null;
        for (int round = 0; round <= rounds; round++) {
          if (jfr != null && round == jfrAfter + 1) {
            // Profile the warm rounds only: the JIT compiles for the first several thousand programs.
            String jfc = System.getProperty("probe.jfc");
            recording = new Recording(jfc == null ? Configuration.getConfiguration("profile")
                : Configuration.create(Path.of(jfc)));
            recording.setDestination(Path.of(jfr));
            recording.start();
          }
          int n = round == 0 ? Math.max(1, count / 4) : count;
          String tag = round == 0 ? "warm-up" : "round " + round;
          if (pipelined != null && round % 2 == 1) { // alternate which shape goes first
            calls.clear();
            report(tag, "pipe" + WINDOW, durability, pipelined(pipelined, client, blocks, n, next));
            calls.print();
          }
          if (doAppends) {
            timeline.clear();
            report(tag, "append", durability, time(n, () -> {
              timeline.opStart();
              List<byte[]> body = new ArrayList<>(APPEND_BLOCKS);
              for (int b = 0; b < APPEND_BLOCKS; b++) {
                body.add(blocks.get(next[0]++ % count));
              }
              appends.append(client, body);
              timeline.opEnd();
            }));
            timeline.print();
          }
          if (pipelined != null && round % 2 == 0) {
            calls.clear();
            report(tag, "pipe" + WINDOW, durability, pipelined(pipelined, client, blocks, n, next));
            calls.print();
          }
          if (doReads) {
            RecordHeader head = Objects.requireNonNull(reads.highestHead(), "the record was appended");
            timeline.clear();
            report(tag, "read", durability, time(n, () -> {
              timeline.opStart();
              ProgramBuilder b = reads.newProgram(client);
              int[] read = new int[READS_PER_PROGRAM];
              for (int i = 0; i < read.length; i++) {
                read[i] = b.readSubRecordAtHeight(head.height(), next[0]++ % READ_RECORD, head);
              }
              ProgramResult result = client.run(b.build());
              for (int index : read) {
                if (result.output(index).payload().length != BLOCK) {
                  throw new IllegalStateException("a read returned the wrong block");
                }
              }
              timeline.opEnd();
            }));
            timeline.print();
          }
        }
        if (TIMELINE) {
          pingBaseline(host.port(), count);
        }
        if (recording != null) {
          recording.stop();
          recording.close();
        }
      }
    } finally {
      TempDirectories.delete(dir);
    }
  }

  private static long[] time(int n, Samples.ThrowingRunnable op) throws Exception {
    long[] nanos = new long[n + 2];
    long cpu = processCpuNanos();
    Map<String, Long> threadsBefore = THREADS ? threadTicks() : Map.of();
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      long t = System.nanoTime();
      op.run();
      nanos[i] = System.nanoTime() - t;
    }
    nanos[n] = System.nanoTime() - start;
    nanos[n + 1] = processCpuNanos() - cpu;
    printThreads(threadsBefore, n);
    return nanos;
  }

  /** With {@code probe.threads}, the CPU time per operation of each thread since {@code before}. */
  private static void printThreads(Map<String, Long> before, int n) {
    if (THREADS) {
      Map<String, Long> after = threadTicks();
      StringBuilder line = new StringBuilder("  cpu ms/op by thread:");
      after.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue() - before.getOrDefault(b.getKey(), 0L),
          a.getValue() - before.getOrDefault(a.getKey(), 0L))).limit(12).forEach(e -> line.append(String.format(
          " %s=%.3f", e.getKey(), (e.getValue() - before.getOrDefault(e.getKey(), 0L)) * 10.0 / n)));
      System.out.println(line);
    }
  }

  private static final boolean TIMELINE = Boolean.getBoolean("probe.timeline");
  /** How many pipelined appends the {@code pipe} shape keeps pending. */
  private static final int WINDOW = Integer.getInteger("probe.window", 32);

  /**
   * {@code n} appends of one record each through {@link CapsuleWriter#submitAppend}, up to {@link #WINDOW}
   * pending (the oldest settled when the window is full), all settled at the end; as {@link #time} returns,
   * each operation's time being from its submission to its settling.
   */
  private static long[] pipelined(CapsuleWriter writer, HostClient client, List<byte[]> blocks, int n, int[] next)
      throws Exception {
    long[] nanos = new long[n + 2];
    long[] submitted = new long[n];
    List<PendingAppend> pending = new ArrayList<>();
    Map<String, Long> threadsBefore = THREADS ? threadTicks() : Map.of();
    long cpu = processCpuNanos();
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      submitted[i] = System.nanoTime();
      pending.add(writer.submitAppend(client, List.of(List.of(blocks.get(next[0]++ % blocks.size())))));
      if (writer.pendingAppends() >= WINDOW) {
        int oldest = i + 1 - WINDOW;
        pending.get(oldest).result();
        nanos[oldest] = System.nanoTime() - submitted[oldest];
      }
    }
    writer.awaitAppends();
    long end = System.nanoTime();
    for (int i = Math.max(0, n - WINDOW + 1); i < n; i++) {
      nanos[i] = end - submitted[i];
    }
    nanos[n] = end - start;
    nanos[n + 1] = processCpuNanos() - cpu;
    printThreads(threadsBefore, n);
    return nanos;
  }

  /** Unary health-check round trips against a bare server, each side with gRPC's default executor or a direct one. */
  static void hopCost(int count) throws Exception {
    for (boolean directServer : new boolean[] {false, true}) {
      NettyServerBuilder sb = NettyServerBuilder
          .forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
          .addService(new HealthStatusManager().getHealthService());
      if (directServer) {
        sb.directExecutor();
      }
      Server server = sb.build().start();
      for (boolean directClient : new boolean[] {false, true}) {
        NettyChannelBuilder cb = NettyChannelBuilder
            .forAddress("127.0.0.1", server.getPort()).usePlaintext();
        if (directClient) {
          cb.directExecutor();
        }
        ManagedChannel channel = cb.build();
        long[] each = healthRoundTrips(channel, count);
        System.out.printf("  health round trip, server %s, client %s: median %.3f ms, p90 %.3f ms%n",
            directServer ? "direct" : "pool", directClient ? "direct" : "pool", each[count / 2] / 1e6,
            each[(int) (count * 0.9)] / 1e6);
        channel.shutdownNow();
      }
      server.shutdownNow();
    }
  }

  /** {@code count} health-check round trips on {@code channel} after as many untimed ones, in ns, sorted. */
  private static long[] healthRoundTrips(ManagedChannel channel, int count) {
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
    HealthCheckRequest request = HealthCheckRequest.getDefaultInstance();
    for (int i = 0; i < count; i++) {
      health.check(request);
    }
    long[] each = new long[count];
    for (int i = 0; i < count; i++) {
      long t = System.nanoTime();
      health.check(request);
      each[i] = System.nanoTime() - t;
    }
    Arrays.sort(each);
    return each;
  }

  /** The round trip of an empty unary call (the health check) over a channel like the client's: the gRPC floor. */
  private static void pingBaseline(int port, int count) {
    ManagedChannel channel = NettyChannelBuilder
        .forAddress("127.0.0.1", port).usePlaintext().build();
    try {
      long[] each = healthRoundTrips(channel, count);
      System.out.printf("  unary health check round trip: median %.3f ms, p90 %.3f ms%n", each[count / 2] / 1e6,
          each[(int) (count * 0.9)] / 1e6);
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * Client-side timestamps of each program's messages (a client interceptor: when the renter's thread sends,
   * when gRPC hands a response to the renter and when the renter's handler returns), and of the operation
   * around it; {@link #print} gives the median of each gap over the operations since {@link #clear}.
   */
  private static final class Timeline implements ClientInterceptor {
    private final List<List<String>> labels = new ArrayList<>();
    private final List<long[]> times = new ArrayList<>();
    private List<String> opLabels = new ArrayList<>();
    private long[] opTimes = new long[64];
    private int size;

    synchronized void clear() {
      labels.clear();
      times.clear();
    }

    synchronized void opStart() {
      opLabels = new ArrayList<>();
      size = 0;
      mark("op start");
    }

    synchronized void opEnd() {
      mark("op returns");
      labels.add(opLabels);
      times.add(Arrays.copyOf(opTimes, size));
    }

    synchronized void mark(String what) {
      if (size < opTimes.length) {
        opLabels.add(what);
        opTimes[size++] = System.nanoTime();
      }
    }

    synchronized void print() {
      if (times.isEmpty() || !TIMELINE) {
        return;
      }
      Map<List<String>, Integer> shapes = new HashMap<>();
      labels.forEach(l -> shapes.merge(l, 1, Integer::sum));
      List<String> shape = Collections.max(shapes.entrySet(), Map.Entry.comparingByValue())
          .getKey();
      StringBuilder out = new StringBuilder("  timeline (median ms from the previous mark):");
      for (int k = 1; k < shape.size(); k++) {
        List<Long> gaps = new ArrayList<>();
        for (int i = 0; i < times.size(); i++) {
          if (labels.get(i).equals(shape)) {
            gaps.add(times.get(i)[k] - times.get(i)[k - 1]);
          }
        }
        Collections.sort(gaps);
        out.append(String.format("%n    %-28s %7.3f", shape.get(k), gaps.get(gaps.size() / 2) / 1e6));
      }
      System.out.println(out);
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
        CallOptions options, Channel next) {
      if (!method.getBareMethodName().equals("Execute")) {
        return next.newCall(method, options);
      }
      mark("call start");
      return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
            @Override
            public void onMessage(R message) {
              String kind = ((ExecuteResponse) message).getKindCase().name().toLowerCase(Locale.ROOT);
              mark(kind + " arrives");
              super.onMessage(message);
              if (!kind.equals("end")) { // the renter's thread may return before the handler does
                mark(kind + " handled");
              }
            }
          }, headers);
        }

        @Override
        public void sendMessage(Q message) {
          mark("send " + ((ExecuteRequest) message).getKindCase().name().toLowerCase(Locale.ROOT));
          super.sendMessage(message);
        }
      };
    }
  }

  /**
   * Client-side marks of each Execute call in the order the calls start (for pipelined programs, which
   * overlap): when it starts, when its first response (the append's output) arrives and is handled, and
   * when its end arrives; {@link #print} gives the median gaps within a call and to the next call's start.
   */
  private static final class CallTimes implements ClientInterceptor {
    private static final String[] MARKS = {"start", "output arrives", "output handled", "end arrives"};
    private final List<long[]> calls = new ArrayList<>();

    synchronized void clear() {
      calls.clear();
    }

    synchronized void print() {
      if (!TIMELINE || calls.size() < 3) {
        return;
      }
      StringBuilder out = new StringBuilder("  calls (median ms):");
      for (int k = 1; k < MARKS.length; k++) {
        int at = k;
        out.append(String.format("%n    %-16s -> %-16s %7.3f", MARKS[k - 1], MARKS[k],
            median(i -> calls.get(i)[at] - calls.get(i)[at - 1])));
      }
      for (int k = 0; k < MARKS.length; k++) {
        int at = k;
        out.append(String.format("%n    %-16s -> next start       %7.3f", MARKS[k],
            median(i -> i + 1 < calls.size() ? calls.get(i + 1)[0] - calls.get(i)[at] : Long.MIN_VALUE)));
      }
      out.append(String.format("%n    start -> next start (mean)         %7.3f",
          (calls.get(calls.size() - 1)[0] - calls.get(0)[0]) / 1e6 / (calls.size() - 1)));
      System.out.println(out);
    }

    private double median(java.util.function.IntToLongFunction gap) {
      List<Long> gaps = new ArrayList<>();
      for (int i = 0; i < calls.size(); i++) {
        long g = gap.applyAsLong(i);
        if (g != Long.MIN_VALUE && calls.get(i)[MARKS.length - 1] != 0 && calls.get(i)[2] != 0) {
          gaps.add(g);
        }
      }
      Collections.sort(gaps);
      return gaps.isEmpty() ? Double.NaN : gaps.get(gaps.size() / 2) / 1e6;
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      if (!method.getBareMethodName().equals("Execute")) {
        return next.newCall(method, options);
      }
      long[] marks = new long[MARKS.length];
      marks[0] = System.nanoTime();
      synchronized (this) {
        calls.add(marks);
      }
      return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
            @Override
            public void onMessage(R message) {
              boolean end = ((ExecuteResponse) message).hasEnd();
              boolean first = !end && marks[1] == 0;
              if (end) {
                marks[3] = System.nanoTime();
              } else if (first) {
                marks[1] = System.nanoTime();
              }
              super.onMessage(message);
              if (first) {
                marks[2] = System.nanoTime();
              }
            }
          }, headers);
        }
      };
    }
  }

  private static final boolean THREADS = Boolean.getBoolean("probe.threads");

  /** Clock ticks (10 ms) of user and system time of this process's threads, summed by name less digits (Linux). */
  private static Map<String, Long> threadTicks() {
    Map<String, Long> out = new TreeMap<>();
    File[] tasks = new File("/proc/self/task").listFiles();
    if (tasks == null) {
      return out;
    }
    for (File task : tasks) {
      try {
        String stat = Files.readString(task.toPath().resolve("stat"));
        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replaceAll("[0-9]+", "#");
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ", -1);
        out.merge(name, Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum);
      } catch (IOException | RuntimeException e) {
        // a thread that ended meanwhile
      }
    }
    return out;
  }

  /** CPU time of every thread of this process (host and client), from the JVM's operating system bean. */
  private static long processCpuNanos() {
    return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static void report(String round, String shape, Durability durability, long[] nanos) {
    int n = nanos.length - 2;
    long[] each = Arrays.copyOf(nanos, n);
    Arrays.sort(each);
    System.out.printf("%-8s %-6s %-8s %6d ops %8.0f ops/s  median %7.3f ms  p90 %7.3f ms  cpu/op %7.3f ms%n",
        round, shape, durability, n, n * 1e9 / nanos[n], each[n / 2] / 1e6, each[(int) (n * 0.9)] / 1e6,
        nanos[n + 1] / 1e6 / n);
  }
}
