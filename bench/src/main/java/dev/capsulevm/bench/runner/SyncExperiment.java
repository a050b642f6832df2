package dev.capsulevm.bench.runner;

import dev.capsulevm.host.replication.CodedSets;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.host.sync.CodedSet;
import dev.capsulevm.host.sync.InMemoryDag;
import dev.capsulevm.host.sync.LocalSession;
import dev.capsulevm.host.sync.Reconciler;
import dev.capsulevm.host.sync.SessionKey;
import dev.capsulevm.host.sync.SyncRecord;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.vm.storage.Batch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.function.IntPredicate;

/**
 * Anti-entropy between two in-memory replicas of one capsule: the compact rateless IBLT over keyed 64-bit
 * hashes with each side's symbols kept up to date under the hosts' pair key (RIBLT-64 kept, mode 3, what
 * hosts run) and encoded per session under a session key (RIBLT-64, mode 2, before), against the Bloom
 * filter + walk baseline and the full-id form (RIBLT-256), on the same replicas, for divergence 0, 0.1, 1
 * and 10 percent of the records and four shapes of difference. {@code -Dsync.methods=RIBLT-64,Bloom} runs
 * only the methods named (the per-session form and the baseline are always needed for the findings).
 * Sessions run through the codec ({@link LocalSession}): every turn is encoded, counted and strictly
 * decoded; the bytes of the records themselves (ids, parents) are counted apart from the reconciliation's.
 * The kept sets are built before each session (their CPU is reported apart: it is paid as records are
 * stored, or once per peer after a restart); {@code -Dsync.lmdb=false} skips building one from an LMDB
 * store of the same size.
 */
final class SyncExperiment implements Experiment {
  private static final double[] DIVERGENCE = {0, 0.001, 0.01, 0.1};
  private static final String[] SHAPES = {"scattered holes", "one hole per side", "a fork", "a lagging tip"};
  /** The compact form with kept symbols (the default in hosts). */
  static final String KEPT = "RIBLT-64 kept";
  /** Kept, per session, the baseline, the full-id form. */
  private static final String[] ALL_METHODS = {KEPT, "RIBLT-64", "Bloom", "RIBLT-256"};
  private static final int WIDTH = 4;

  @Override
  public String name() {
    return "sync";
  }

  @Override
  public String title() {
    return "Replica reconciliation: rateless IBLT against Bloom filters and the walk";
  }

  /** 10 seeds (quick: 3); {@code -Dsync.seeds=N} overrides it for a shorter look at full size. */
  private static int seeds(boolean quick) {
    return Integer.getInteger("sync.seeds", quick ? 3 : 10);
  }

  /** The methods to run: all three, or those {@code -Dsync.methods} names (the default and Bloom at least). */
  private static String[] methods() {
    String p = System.getProperty("sync.methods");
    if (p == null || p.isBlank()) {
      return ALL_METHODS;
    }
    List<String> chosen = new ArrayList<>();
    for (String m : ALL_METHODS) {
      if (List.of(p.split(",")).stream().map(String::trim).anyMatch(m::equalsIgnoreCase)) {
        chosen.add(m);
      }
    }
    if (!chosen.contains("RIBLT-64") || !chosen.contains("Bloom")) {
      throw new IllegalArgumentException("sync.methods must include RIBLT-64 and Bloom, got " + p);
    }
    return chosen.toArray(String[]::new);
  }

  @Override
  public int steps(boolean quick) {
    boolean lmdb = List.of(methods()).contains(KEPT) && !"false".equals(System.getProperty("sync.lmdb"));
    return seeds(quick) * SHAPES.length * DIVERGENCE.length + (lmdb ? 1 : 0);
  }

  /** One session's figures; {@code extended}: a side with kept symbols encoded past their prefix. */
  private record Run(double bytes, double missing, int roundTrips, double cpuInitiator, double cpuResponder,
      boolean fellBack, boolean diverged, boolean extended) {
    double perMissing() {
      return missing == 0 ? bytes : bytes / missing;
    }
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    int n = quick ? 100_000 : 1_000_000;
    int seeds = seeds(quick);
    String[] methods = methods();
    boolean full = List.of(methods).contains("RIBLT-256");
    Result result = new Result(title(),
        "Two in-memory replicas of a capsule of " + String.format("%,d", n) + " records (a DAG of up to "
            + WIDTH + " concurrent branches with merges), " + seeds + " seeds per cell. Divergence d is the"
            + " share of records missing on one side or the other: scattered holes (each side lacks d/2 of"
            + " the records at random), one hole per side (each lacks one run of d/2 consecutive records),"
            + " a fork (a common history, then each side's own branch of d/2 records) and a lagging tip (one"
            + " side lacks the newest d). Each cell runs " + methods.length + " methods on copies of the same"
            + " replicas: " + (List.of(methods).contains(KEPT) ? "RIBLT-64 kept, the default in hosts (mode 3:"
                + " the compact rateless IBLT's symbols, over keyed 64-bit hashes of the ids, 12 bytes and a count"
                + " each, under the key the two hosts share, each side's first " + String.format("%,d",
                CodedSet.DEFAULT_PREFIX) + " kept up to date as records are stored and copied per session; its"
                + " kept sets are built before the session, their CPU reported apart), " : "")
            + "RIBLT-64 (the same symbols under a key of the session, so each side encodes its whole set per"
            + " session: the default before kept symbols; quick check, symbols streamed one run ahead, the"
            + " initiator learning ids from the records it then asks for; falling back to Bloom filters when they"
            + " would cost more), the baseline, Bloom (quick check, Bloom filters at 1% false positives, the walk"
            + " from the heads, repair rounds)"
            + (full ? ", and RIBLT-256, the same rateless IBLT over the 32-byte ids (40 bytes and a count per"
                + " symbol, ids checked against the fingerprint before asking)" : "")
            + ". Bytes are reconciliation bytes"
            + " (every message byte except the records' ids and parents); bytes per missing record divide"
            + " by the records either side lacked. Round trips count the initiator's turns; CPU is each"
            + " side's thread CPU time (ThreadMXBean), encoding and decoding included. Median (range).");
    result.header("shape", "divergence", "method", "missing records", "bytes per missing record",
        "reconciliation KiB", "round trips", "CPU per side (ms)", "fell back", "diverged");
    Result.Chart chart = result.chart("Bytes per missing record", "divergence (missing records per 10,000)", true,
        "reconciliation bytes per missing record (median)", true);
    Map<String, List<Run>> runs = new LinkedHashMap<>();
    List<Double> buildMs = new ArrayList<>();
    warmUp();
    for (int seed = 1; seed <= seeds; seed++) {
      List<SyncRecord> base = records(seed, n);
      for (String shape : SHAPES) {
        for (double divergence : DIVERGENCE) {
          Replicas built = replicas(base, shape, divergence, seed);
          for (int mi = 0; mi < methods.length; mi++) {
            String method = methods[mi];
            Replicas r = mi == methods.length - 1 ? built : new Replicas(built.a.copy(), built.b.copy());
            Reconciler.Config config = config(method);
            long missing = missing(r.a, r.b);
            byte[] pair = null;
            if (method.equals(KEPT)) {
              pair = pairSecret(seed);
              SessionKey key = SessionKey.forPair(ROOT, pair);
              for (InMemoryDag side : List.of(r.a, r.b)) {
                long t = THREADS.getCurrentThreadCpuTime();
                side.maintain(key, CodedSet.DEFAULT_PREFIX);
                buildMs.add((THREADS.getCurrentThreadCpuTime() - t) / 1e6);
              }
            }
            Reconciler initiator = new Reconciler(r.a, Reconciler.Role.INITIATOR, config, new Random(seed * 31L),
                pair);
            Reconciler responder = new Reconciler(r.b, Reconciler.Role.RESPONDER, config, new Random(seed * 37L),
                pair);
            LocalSession.Stats s = LocalSession.run(initiator, responder, 1_000);
            boolean diverged = !r.a.digest().equals(r.b.digest());
            runs.computeIfAbsent(key(shape, divergence, method), k -> new ArrayList<>()).add(new Run(
                s.reconciliationBytes(), missing, s.roundTrips(), s.initiatorCpuNanos() / 1e6,
                s.responderCpuNanos() / 1e6, s.fellBack(), diverged,
                initiator.extendedKeptSymbols() || responder.extendedKeptSymbols()));
          }
          progress.step(name() + ": seed " + seed + ", " + shape + ", " + percent(divergence));
        }
      }
    }
    // table and chart
    for (String shape : SHAPES) {
      for (double divergence : DIVERGENCE) {
        for (String method : methods) {
          List<Run> rs = runs(runs, key(shape, divergence, method));
          Samples missing = samples(rs, Run::missing);
          Samples per = samples(rs, Run::perMissing);
          Samples kib = samples(rs, x -> x.bytes() / 1024);
          Samples rts = samples(rs, x -> x.roundTrips());
          Samples cpu = samples(rs, x -> Math.max(x.cpuInitiator(), x.cpuResponder()));
          long fell = rs.stream().filter(Run::fellBack).count();
          long div = rs.stream().filter(Run::diverged).count();
          result.row(shape, percent(divergence), method, missing.format(0),
              divergence == 0 ? "-" : per.format(1), kib.format(1), rts.format(0), cpu.format(1),
              fell + "/" + rs.size(), div + "/" + rs.size());
          if (divergence > 0) {
            chart.point(method + ", " + shape, divergence * 10_000, per.median());
          }
        }
      }
    }
    boolean kept = List.of(methods).contains(KEPT);
    if (kept) {
      findings(result, runs, KEPT, "the default (RIBLT-64 kept)");
      keptFindings(result, runs, n, new Samples(buildMs.stream().mapToDouble(Double::doubleValue).toArray()));
    }
    findings(result, runs, "RIBLT-64", kept ? "the per-session form (RIBLT-64)" : "the default (RIBLT-64)");
    if (full) {
      findings(result, runs, "RIBLT-256", "the full-id form (RIBLT-256)");
    }
    if (kept && !"false".equals(System.getProperty("sync.lmdb"))) {
      lmdbBuild(result, n, progress);
    }
    return result;
  }

  private static final java.lang.management.ThreadMXBean THREADS =
      java.lang.management.ManagementFactory.getThreadMXBean();

  /** The two hosts' pair secret in a seed's sessions (what their key exchange would give). */
  private static byte[] pairSecret(long seed) {
    byte[] secret = new byte[SessionKey.PAIR_SECRET_BYTES];
    new Random(seed * 41L).nextBytes(secret);
    return secret;
  }

  /** Kept against per-session symbols, in the same sessions: CPU, bytes, round trips; and what keeping costs. */
  private static void keptFindings(Result result, Map<String, List<Run>> runs, int n, Samples builds) {
    List<String> cpu = new ArrayList<>();
    double worstMedian = 0;
    double worstSession = 0;
    for (String shape : SHAPES) {
      List<Run> k = runs(runs, key(shape, 0.001, KEPT));
      List<Run> p = runs(runs, key(shape, 0.001, "RIBLT-64"));
      Samples kc = samples(k, x -> Math.max(x.cpuInitiator(), x.cpuResponder()));
      Samples pc = samples(p, x -> Math.max(x.cpuInitiator(), x.cpuResponder()));
      worstMedian = Math.max(worstMedian, kc.median());
      worstSession = Math.max(worstSession, kc.max());
      cpu.add(String.format("%s %.1f (per session %.0f)", shape, kc.median(), pc.median()));
    }
    result.finding(String.format("CPU per side at %,d records and 0.1 %% divergence, kept symbols against symbols"
        + " encoded per session (same replicas, same run), median ms: %s. Worst median %.1f ms, worst session"
        + " %.1f ms. Goal at most 50 ms: %s.", n, String.join(", ", cpu), worstMedian, worstSession,
        worstMedian <= 50 ? "met" : "missed"));
    double lowBytes = Double.MAX_VALUE;
    double highBytes = 0;
    int moreTrips = 0;
    long extended = 0;
    long total = 0;
    java.util.Set<String> extendedAt = new java.util.TreeSet<>();
    for (String shape : SHAPES) {
      for (double d : DIVERGENCE) {
        List<Run> k = runs(runs, key(shape, d, KEPT));
        List<Run> p = runs(runs, key(shape, d, "RIBLT-64"));
        if (d > 0) {
          double ratio = samples(k, Run::bytes).median() / samples(p, Run::bytes).median();
          lowBytes = Math.min(lowBytes, ratio);
          highBytes = Math.max(highBytes, ratio);
        }
        moreTrips += samples(k, x -> x.roundTrips()).median() > samples(p, x -> x.roundTrips()).median() ? 1 : 0;
        long e = k.stream().filter(Run::extended).count();
        if (e > 0) {
          extendedAt.add(percent(d));
        }
        extended += e;
        total += k.size();
      }
    }
    result.finding(String.format("Bytes and round trips with kept symbols: the same symbols under another key;"
        + " per cell with a difference, the median bytes are %.2f–%.2fx the per-session form's, and %d of %d"
        + " cells took more round trips (median). %d of %d sessions needed symbols past the %,d kept%s and"
        + " encoded those from every record, as every session did before.", lowBytes, highBytes, moreTrips,
        SHAPES.length * DIVERGENCE.length, extended, total, CodedSet.DEFAULT_PREFIX,
        extendedAt.isEmpty() ? "" : " (divergence " + String.join(", ", extendedAt) + ")"));
    result.finding(String.format("What keeping costs: building a side's kept set of %,d records from its ids"
        + " (the CPU each record costs when stored, about %.2f µs, paid at once by the first session after a"
        + " restart) took %.0f ms median (%.0f–%.0f); a set of %,d records holds about %.0f MiB (60 bytes a"
        + " record, 16 a kept symbol).", n, builds.median() * 1000 / n, builds.median(), builds.min(), builds.max(),
        n, (60.0 * n + 16.0 * CodedSet.DEFAULT_PREFIX) / (1 << 20)));
  }

  /**
   * Builds a kept set from an LMDB store of {@code n} records (what a host's first session after a restart
   * does) three times, each after reopening the store: the store's open time, unchanged by kept sets, and
   * the build's.
   */
  private static void lmdbBuild(Result result, int n, Progress progress) throws Exception {
    Path dir = Files.createTempDirectory("capsulevm-sync-lmdb");
    try {
      SignedMetadata metadata = Workload.metadata(SigningPolicy.HEARTBEAT, "sync kept set");
      Hash capsule = metadata.capsuleId();
      try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(dir, 4L << 30, 4L << 30, 16,
          LmdbCapsuleStorage.Durability.NO_SYNC)) {
        try (Batch batch = store.newBatch()) {
          batch.createCapsule(metadata);
          batch.commit();
        }
        InMemoryRecordSource source = new InMemoryRecordSource();
        Hash parent = capsule;
        for (int i = 0; i < n; i += 10_000) {
          try (Batch batch = store.newBatch()) {
            for (int k = i; k < Math.min(n, i + 10_000); k++) {
              List<byte[]> body = List.of(ByteBuffer.allocate(8).putLong(k).array());
              Record record = Record.build(capsule, List.of(parent), body, Workload.START.toEpochMilli() + k,
                  Workload.WRITER, false, source);
              source.add(record.header());
              batch.putRecord(new RecordWithBody(record, body));
              parent = record.hash();
            }
            batch.commit();
          }
        }
        store.sync();
      }
      List<Double> opens = new ArrayList<>();
      List<Double> builds = new ArrayList<>();
      List<Double> buildCpu = new ArrayList<>();
      for (int round = 0; round < 3; round++) {
        long t = System.nanoTime();
        try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(dir, 4L << 30, 4L << 30, 16,
            LmdbCapsuleStorage.Durability.NO_SYNC)) {
          opens.add((System.nanoTime() - t) / 1e6);
          CodedSets sets = new CodedSets(store, new CodedSets.Limits(CodedSet.DEFAULT_PREFIX, 0,
              Long.MAX_VALUE, java.time.Duration.ofHours(25)), java.time.Clock.systemUTC());
          store.onRecordsStored(sets);
          long c = THREADS.getCurrentThreadCpuTime();
          t = System.nanoTime();
          if (sets.snapshot(capsule, SessionKey.forPair(capsule, pairSecret(round))) == null) {
            throw new IllegalStateException("the kept set of " + n + " records was not built");
          }
          builds.add((System.nanoTime() - t) / 1e6);
          buildCpu.add((THREADS.getCurrentThreadCpuTime() - c) / 1e6);
        }
      }
      Samples open = new Samples(opens.stream().mapToDouble(Double::doubleValue).toArray());
      Samples build = new Samples(builds.stream().mapToDouble(Double::doubleValue).toArray());
      Samples cpu = new Samples(buildCpu.stream().mapToDouble(Double::doubleValue).toArray());
      result.finding(String.format("After a restart, from an LMDB store of %,d records (page cache warm, 3"
          + " reopens): opening the store took %.1f ms median (kept sets add nothing to it: they are built at the"
          + " first session with each peer, whose keys the restart renewed); that first build took %.0f ms median"
          + " (%.0f–%.0f; CPU %.0f ms), read in one pass over the capsule's ids.", n, open.median(), build.median(),
          build.min(), build.max(), cpu.median()));
      progress.step("sync: kept set built from LMDB");
    } finally {
      try (var paths = Files.walk(dir)) {
        paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static Reconciler.Config config(String method) {
    return switch (method) {
      case "RIBLT-64", KEPT -> Reconciler.Config.DEFAULT;
      case "Bloom" -> Reconciler.Config.BASELINE;
      case "RIBLT-256" -> Reconciler.Config.FULL_IDS;
      default -> throw new IllegalArgumentException(method);
    };
  }

  /** The runs under {@code key}, which the experiment ran. */
  private static List<Run> runs(Map<String, List<Run>> runs, String key) {
    return Objects.requireNonNull(runs.get(key), key);
  }

  private static void findings(Result result, Map<String, List<Run>> runs, String m, String who) {
    // 1. bytes per missing record at 0.1 and 1 percent
    double worstMedian = 0;
    double worst = 0;
    double bloomLow = Double.MAX_VALUE;
    double bloomHigh = 0;
    for (String shape : SHAPES) {
      for (double d : new double[] {0.001, 0.01}) {
        List<Run> rs = runs(runs, key(shape, d, m));
        worstMedian = Math.max(worstMedian, samples(rs, Run::perMissing).median());
        worst = Math.max(worst, samples(rs, Run::perMissing).max());
        double b = samples(runs(runs, key(shape, d, "Bloom")), Run::perMissing).median();
        bloomLow = Math.min(bloomLow, b);
        bloomHigh = Math.max(bloomHigh, b);
      }
    }
    result.finding(String.format("Bytes per missing record at 0.1 and 1 %% divergence: %s has a median of at"
        + " most %.1f in every shape (worst single session %.1f); the baseline's medians range %.0f–%.0f."
        + " Goal at most 80: %s.", who, worstMedian, worst, bloomLow, bloomHigh, worstMedian <= 80 ? "met"
        : "missed"));
    // 2. 10 percent against the baseline
    double worstRatio = 0;
    for (String shape : SHAPES) {
      List<Run> rb = runs(runs, key(shape, 0.1, m));
      List<Run> bb = runs(runs, key(shape, 0.1, "Bloom"));
      worstRatio = Math.max(worstRatio, samples(rb, Run::bytes).median() / samples(bb, Run::bytes).median());
    }
    result.finding(String.format("At 10 %% divergence %s spends at most %.2fx the baseline's bytes"
        + " (median per shape). Goal at most 1.25x: %s.", who, worstRatio, worstRatio <= 1.25 ? "met" : "missed"));
    // 3. round trips
    long total = 0;
    long within = 0;
    int maxRt = 0;
    long bloomWithin = 0;
    long bloomTotal = 0;
    for (Map.Entry<String, List<Run>> e : runs.entrySet()) {
      for (Run r : e.getValue()) {
        if (e.getKey().endsWith("|" + m)) {
          total++;
          within += r.roundTrips() <= 2 ? 1 : 0;
          maxRt = Math.max(maxRt, r.roundTrips());
        } else if (e.getKey().endsWith("|Bloom")) {
          bloomTotal++;
          bloomWithin += r.roundTrips() <= 2 ? 1 : 0;
        }
      }
    }
    double share = 100.0 * within / total;
    result.finding(String.format("Round trips: %.1f %% of the %d sessions of %s took at most 2 (the most: %d;"
        + " the baseline: %.1f %%). Goal at least 99.9 %%: %s.", share, total, who, maxRt,
        100.0 * bloomWithin / bloomTotal, share >= 99.9 ? "met" : "missed"));
    // 4. CPU
    double maxCpu = 0;
    double maxBloomCpu = 0;
    for (Map.Entry<String, List<Run>> e : runs.entrySet()) {
      for (Run r : e.getValue()) {
        double c = Math.max(r.cpuInitiator(), r.cpuResponder());
        if (e.getKey().endsWith("|" + m)) {
          maxCpu = Math.max(maxCpu, c);
        } else if (e.getKey().endsWith("|Bloom")) {
          maxBloomCpu = Math.max(maxBloomCpu, c);
        }
      }
    }
    result.finding(String.format("CPU: at most %.0f ms on either side in any session of %s (baseline: %.0f"
        + " ms). Goal at most 500 ms: %s.", maxCpu, who, maxBloomCpu, maxCpu <= 500 ? "met" : "missed"));
    // 5. divergence
    long diverged = runs.entrySet().stream().filter(e -> e.getKey().endsWith("|" + m))
        .flatMap(e -> e.getValue().stream()).filter(Run::diverged).count();
    long bloomDiverged = runs.entrySet().stream().filter(e -> e.getKey().endsWith("|Bloom"))
        .flatMap(e -> e.getValue().stream()).filter(Run::diverged).count();
    result.finding(String.format("Sessions of %s that ended with different record sets: %d of %d (baseline: %d)."
        + " Goal none: %s.", who, diverged, total, bloomDiverged, diverged == 0 ? "met" : "missed"));
  }

  private static String key(String shape, double divergence, String method) {
    return shape + "|" + divergence + "|" + method;
  }

  private static String percent(double d) {
    return d == 0 ? "0 %" : (d * 100 >= 1 ? String.format("%.0f %%", d * 100) : String.format("%.1f %%", d * 100));
  }

  private static Samples samples(List<Run> runs, java.util.function.ToDoubleFunction<Run> f) {
    return new Samples(runs.stream().mapToDouble(f).toArray());
  }

  private record Replicas(InMemoryDag a, InMemoryDag b) {}

  private static final Hash ROOT = id("capsule", 0, 0);

  private static Hash id(String label, long seed, long index) {
    MessageDigest md = Sha256.newDigest();
    md.update(label.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    md.update(ByteBuffer.allocate(16).putLong(seed).putLong(index).array());
    return Hash.copyOf(md.digest());
  }

  /** A capsule written by up to {@link #WIDTH} concurrent branches that fork and merge. */
  static List<SyncRecord> records(long seed, int n) {
    Random random = new Random(seed);
    List<SyncRecord> out = new ArrayList<>(n);
    List<Hash> tips = new ArrayList<>();
    tips.add(ROOT);
    for (int i = 0; i < n; i++) {
      Hash id = id("record", seed, i);
      int t = random.nextInt(tips.size());
      List<Hash> parents = new ArrayList<>(2);
      parents.add(tips.get(t));
      double x = random.nextDouble();
      if (tips.size() > 1 && x < 0.02) {
        int u = random.nextInt(tips.size() - 1);
        u = u >= t ? u + 1 : u;
        parents.add(tips.get(u));
        tips.set(t, id);
        tips.remove(u);
      } else if (tips.size() < WIDTH && !tips.get(t).equals(ROOT) && x < 0.04) {
        tips.add(id);
      } else {
        tips.set(t, id);
      }
      out.add(new SyncRecord(id, parents));
    }
    return out;
  }

  private static Replicas replicas(List<SyncRecord> base, String shape, double divergence, long seed) {
    int n = base.size();
    int half = (int) Math.round(n * divergence / 2);
    Random random = new Random(seed * 1_000_003L + Math.round(divergence * 1e6) + shape.hashCode());
    switch (shape) {
      case "scattered holes" -> {
        byte[] side = new byte[n]; // 1: A lacks it, 2: B lacks it
        for (int k = 0; k < 2; k++) {
          int placed = 0;
          while (placed < half) {
            int i = random.nextInt(n);
            if (side[i] == 0) {
              side[i] = (byte) (k + 1);
              placed++;
            }
          }
        }
        return new Replicas(build(base, i -> side[i] != 1), build(base, i -> side[i] != 2));
      }
      case "one hole per side" -> {
        int startA = half == 0 ? 0 : random.nextInt(n / 2 - half);
        int startB = n / 2 + (half == 0 ? 0 : random.nextInt(n / 2 - half));
        return new Replicas(build(base, i -> i < startA || i >= startA + half),
            build(base, i -> i < startB || i >= startB + half));
      }
      case "a fork" -> {
        List<SyncRecord> common = base.subList(0, n - half);
        Hash from = common.get(common.size() - 1).id();
        InMemoryDag a = build(common, i -> true);
        InMemoryDag b = build(common, i -> true);
        Hash pa = from;
        Hash pb = from;
        for (int i = 0; i < half; i++) {
          Hash ia = id("left", seed, i);
          Hash ib = id("right", seed, i);
          a.add(new SyncRecord(ia, List.of(pa)));
          b.add(new SyncRecord(ib, List.of(pb)));
          pa = ia;
          pb = ib;
        }
        return new Replicas(a, b);
      }
      case "a lagging tip" -> {
        int keep = n - 2 * half;
        return new Replicas(build(base, i -> true), build(base, i -> i < keep));
      }
      default -> throw new IllegalArgumentException(shape);
    }
  }

  private static InMemoryDag build(List<SyncRecord> records, IntPredicate keep) {
    InMemoryDag dag = new InMemoryDag(ROOT, records.size());
    for (int i = 0; i < records.size(); i++) {
      if (keep.test(i)) {
        dag.add(records.get(i));
      }
    }
    return dag;
  }

  private static long missing(InMemoryDag a, InMemoryDag b) {
    long[] m = {0};
    a.forEachId(id -> m[0] += b.contains(id) ? 0 : 1);
    b.forEachId(id -> m[0] += a.contains(id) ? 0 : 1);
    return m[0];
  }

  /** Unmeasured sessions so the measured ones run compiled code. */
  private static void warmUp() {
    List<SyncRecord> base = records(0, 20_000);
    for (int round = 0; round < 3; round++) {
      for (String shape : SHAPES) {
        for (Reconciler.Config config : List.of(Reconciler.Config.DEFAULT, Reconciler.Config.BASELINE,
            Reconciler.Config.FULL_IDS)) {
          Replicas r = replicas(base, shape, 0.01 + 0.05 * round, round);
          LocalSession.run(new Reconciler(r.a, Reconciler.Role.INITIATOR, config, new Random(1)),
              new Reconciler(r.b, Reconciler.Role.RESPONDER, config, new Random(2)), 1_000);
        }
        Replicas r = replicas(base, shape, 0.001 + 0.05 * round, round);
        byte[] pair = pairSecret(round);
        r.a.maintain(SessionKey.forPair(ROOT, pair), CodedSet.DEFAULT_PREFIX);
        r.b.maintain(SessionKey.forPair(ROOT, pair), CodedSet.DEFAULT_PREFIX);
        LocalSession.run(new Reconciler(r.a, Reconciler.Role.INITIATOR, Reconciler.Config.DEFAULT, new Random(1), pair),
            new Reconciler(r.b, Reconciler.Role.RESPONDER, Reconciler.Config.DEFAULT, new Random(2), pair), 1_000);
      }
    }
  }
}
