package dev.capsulevm.bench.runner;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RenterOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * End to end over loopback: a host (LMDB, synced commits) and renter SDK clients in one process, every
 * answer verified. Verified 1 KiB sub-record reads with one and with 100 reads per program, and appends
 * of records of 1 and 64 sub-records (one record per program), with 1, 4 and 16 concurrent clients,
 * each with its own account (and, for appends, its own capsule: writes to one capsule are serialized by
 * design). Both ends share the machine's cores, so these are figures for the whole system.
 */
final class EndToEndExperiment implements Experiment {
  private static final int[] CLIENTS = {1, 4, 16};
  private static final int PAYLOAD_BYTES = 1024;
  private static final int BIG_RECORD = 1000;
  /** What each payment session of the session rows holds. */
  private static final Amount SESSION_AMOUNT = Amount.ofCap(1_000);
  /** The client counts of the rows with payment sessions beside those without. */
  private static final int[] SESSION_CLIENTS = {1, 16};

  private enum Workload {
    READ_1("verified reads, 1 per program", 1, false),
    READ_100("verified reads, 100 per program", 100, false),
    APPEND_1("appends, 1 sub-record per record", 1, true),
    APPEND_64("appends, 64 sub-records per record", 64, true);

    final String label;
    final int perProgram;
    final boolean writes;

    Workload(String label, int perProgram, boolean writes) {
      this.label = label;
      this.perProgram = perProgram;
      this.writes = writes;
    }
  }

  @Override
  public String name() {
    return "e2e";
  }

  @Override
  public String title() {
    return "End to end over gRPC: verified reads and appends per second";
  }

  @Override
  public int steps(boolean quick) {
    return Workload.values().length * (CLIENTS.length + 1) + 1 + 2 * SESSION_CLIENTS.length;
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    long millis = quick ? 1_000 : 4_000;
    int runs = 3;
    Result result = new Result(title(),
        "Each cell: sub-records per second (read and verified, or appended and committed), median of " + runs
            + " runs of " + millis + " ms (range), after a warm-up run (and, before the first cell, one untimed run"
            + " of every workload with one client: the JIT's warm-up). One program per request; reads of 1 KiB"
            + " sub-records of a record of " + BIG_RECORD + ", anchored at the capsule's head; appends signed"
            + " by the writer, with the heads they leave stated up front (one round trip; the last rows: the same"
            + " appends confirmed after a proposal, two round trips, alternating with stated ones run by run),"
            + " committed with LMDB synced. Each client has an account of its own, and the host's per-account"
            + " rate limit is lifted (its default, 500 programs a second after a burst of 1,000, held one client's"
            + " single reads near 750/s in earlier runs). 'verify' is the share"
            + " of the clients' time spent parsing and verifying the host's answers; 'commits/program' the LMDB"
            + " write transactions the host's store made per program (a write program's charge is settled in one,"
            + " with its records, programs ending together sharing one: group commit; a read's goes to the"
            + " settlement journal, which a later transaction applies). The 'paid by' rows: the same"
            + " single reads and appends paid from a payment session (one signed request of "
            + SESSION_AMOUNT.units() / Amount.UNITS_PER_CAP + " CAP, then an HMAC ticket per program) beside"
            + " the same clients' counterparts paid by a signed withdrawal per program, alternating run by run.");
    result.header("workload", "clients", "sub-records/s", "programs/s", "verify", "commits/program");
    Result.Chart chart = result.chart("Throughput against concurrent clients", "concurrent clients", true,
        "sub-records per second", true);
    double bestRead100 = 0;
    try (InProcessHost host = new InProcessHost(CLIENTS[CLIENTS.length - 1])) {
      HostClient first = host.clients.get(0);
      CapsuleWriter shared = CapsuleWriter.create(first, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 4096, 2 * PAYLOAD_BYTES, "e2e reads");
      shared.append(first, InProcessHost.payloads(BIG_RECORD, PAYLOAD_BYTES));
      List<Client> clients = new ArrayList<>();
      for (HostClient client : host.clients) {
        clients.add(new Client(client, shared, CapsuleWriter.create(client, SigningKey.generate(),
            SigningKey.generate(), SigningPolicy.EVERY_RECORD, 4096, 2 * PAYLOAD_BYTES, "e2e appends")));
      }
      // The JIT compiles for the first several thousand programs: each workload runs once untimed, so that
      // the first cells measure the code and not its compilation.
      for (Workload w : Workload.values()) {
        measure(clients.subList(0, 1), w, millis);
        progress.step(name() + ": warm-up, " + w.label);
      }
      for (Workload w : Workload.values()) {
        for (int n : CLIENTS) {
          List<Client> active = clients.subList(0, n);
          measure(active, w, Math.min(millis, 500));
          double[] rates = new double[runs];
          double[] programs = new double[runs];
          double[] verify = new double[runs];
          double[] commits = new double[runs];
          for (int r = 0; r < runs; r++) {
            long transactionsBefore = host.transactions();
            Totals t = measure(active, w, millis);
            rates[r] = t.subRecords * 1e9 / t.wallNanos;
            programs[r] = t.programs * 1e9 / t.wallNanos;
            verify[r] = 100.0 * t.verifyNanos / ((double) t.wallNanos * n);
            commits[r] = (host.transactions() - transactionsBefore) / (double) Math.max(1, t.programs);
          }
          Samples rate = new Samples(rates);
          result.row(w.label, n, rate.format(0), new Samples(programs).format(0),
              String.format("%.1f%%", new Samples(verify).median()),
              String.format("%.2f", new Samples(commits).median()));
          chart.point(w.label, n, rate.median());
          if (w == Workload.READ_100) {
            bestRead100 = Math.max(bestRead100, rate.median());
          }
          progress.step(name() + ": " + w.label + ", " + n + " clients");
        }
      }
      confirmedAgainstStated(host, clients.get(0), millis, runs, result, progress);
      sessionsAgainstWithdrawals(host, clients, millis, runs, result, progress);
    }
    result.finding(String.format("Verified 1 KiB sub-record reads with 100 per program: at best %,.0f per second"
        + " (goal: at least 35,000; Hypercore reads and verifies about 11,500 blocks/s on this kind of machine):"
        + " %s.", bestRead100, bestRead100 >= 35_000 ? "met" : "missed"));
    return result;
  }

  /**
   * One client's appends of one sub-record, stated (the default) against confirmed after a proposal
   * (another client of the same host with {@code confirmCommits}), alternating run by run.
   */
  private static void confirmedAgainstStated(InProcessHost host, Client stated, long millis, int runs, Result result,
      Progress progress) throws Exception {
    SigningKey account = SigningKey.generate();
    try (HostClient confirming = host.client(account, RenterOptions.defaults().withConfirmCommits(true))) {
      Client confirmed = new Client(confirming, stated.reads, CapsuleWriter.create(confirming, SigningKey.generate(),
          SigningKey.generate(), SigningPolicy.EVERY_RECORD, 4096, 2 * PAYLOAD_BYTES, "e2e confirmed appends"));
      measure(List.of(confirmed), Workload.APPEND_1, Math.min(millis, 500));
      double[] withProposal = new double[runs];
      double[] withStatedHeads = new double[runs];
      for (int r = 0; r < runs; r++) {
        Totals c = measure(List.of(confirmed), Workload.APPEND_1, millis);
        Totals s = measure(List.of(stated), Workload.APPEND_1, millis);
        withProposal[r] = c.programs * 1e9 / c.wallNanos;
        withStatedHeads[r] = s.programs * 1e9 / s.wallNanos;
      }
      Samples c = new Samples(withProposal);
      Samples s = new Samples(withStatedHeads);
      result.row("appends, 1 sub-record, confirmed after a proposal (2 round trips)", 1, c.format(0), c.format(0),
          "", "");
      result.row("appends, 1 sub-record, heads stated (1 round trip), same runs", 1, s.format(0), s.format(0), "", "");
      result.finding(String.format("One client's appends of one sub-record: %,.0f/s with the heads stated up front"
          + " against %,.0f/s confirmed after a proposal, %.2fx (medians of %d alternating runs).", s.median(),
          c.median(), s.median() / c.median(), runs));
      progress.step("e2e: confirmed against stated appends");
    }
  }

  /**
   * Single reads and appends of one sub-record with 1 and 16 clients, paid from payment sessions (clients of
   * their own, each with its own account and capsule) against per-program withdrawals (the clients above),
   * alternating run by run.
   */
  private static void sessionsAgainstWithdrawals(InProcessHost host, List<Client> withdrawing, long millis, int runs,
      Result result, Progress progress) throws Exception {
    List<HostClient> opened = new ArrayList<>();
    try {
      List<Client> sessions = new ArrayList<>();
      CapsuleWriter reads = withdrawing.get(0).reads;
      for (int i = 0; i < SESSION_CLIENTS[SESSION_CLIENTS.length - 1]; i++) {
        HostClient client = host.client(SigningKey.generate(), RenterOptions.defaults().withSession(SESSION_AMOUNT));
        opened.add(client);
        sessions.add(new Client(client, reads, CapsuleWriter.create(client, SigningKey.generate(),
            SigningKey.generate(), SigningPolicy.EVERY_RECORD, 4096, 2 * PAYLOAD_BYTES, "e2e session appends")));
      }
      for (Workload w : List.of(Workload.READ_1, Workload.APPEND_1)) {
        for (int n : SESSION_CLIENTS) {
          List<Client> bySession = sessions.subList(0, n);
          List<Client> byWithdrawal = withdrawing.subList(0, n);
          measure(bySession, w, Math.min(millis, 500));
          measure(byWithdrawal, w, Math.min(millis, 500));
          double[] session = new double[runs];
          double[] withdrawal = new double[runs];
          for (int r = 0; r < runs; r++) {
            Totals s = measure(bySession, w, millis);
            Totals p = measure(byWithdrawal, w, millis);
            session[r] = s.programs * 1e9 / s.wallNanos;
            withdrawal[r] = p.programs * 1e9 / p.wallNanos;
          }
          Samples bySessionRate = new Samples(session);
          Samples byWithdrawalRate = new Samples(withdrawal);
          result.row(w.label + ", paid by a withdrawal each", n, byWithdrawalRate.format(0),
              byWithdrawalRate.format(0), "", "");
          result.row(w.label + ", paid by a session's tickets, same runs", n, bySessionRate.format(0),
              bySessionRate.format(0), "", "");
          result.finding(String.format("%s, %d client(s): %,.0f programs/s paid from a payment session against"
              + " %,.0f/s paid by a withdrawal each, %.2fx (medians of %d alternating runs).", w.label, n,
              bySessionRate.median(), byWithdrawalRate.median(), bySessionRate.median() / byWithdrawalRate.median(),
              runs));
          progress.step("e2e: " + w.label + ", " + n + " clients, session against withdrawals");
        }
      }
    } finally {
      for (HostClient client : opened) {
        client.close();
      }
    }
  }

  /** One renter: its client (own account), the shared capsule it reads and its own capsule to append to. */
  private static final class Client {
    final HostClient client;
    final CapsuleWriter reads;
    final CapsuleWriter writes;
    int next;

    Client(HostClient client, CapsuleWriter reads, CapsuleWriter writes) {
      this.client = client;
      this.reads = reads;
      this.writes = writes;
    }

    /** Runs one program of {@code w}; returns the time spent verifying. */
    long once(Workload w) throws Exception {
      ProgramResult result;
      if (w.writes) {
        writes.append(client, InProcessHost.payloads(w.perProgram, PAYLOAD_BYTES));
        result = Objects.requireNonNull(writes.lastResult(), "the append ran");
      } else {
        RecordHeader head = Objects.requireNonNull(reads.highestHead(), "run() appended the big record");
        ProgramBuilder b = reads.newProgram(client);
        for (int i = 0; i < w.perProgram; i++) {
          b.readSubRecordAtHeight(head.height(), next++ % BIG_RECORD, head);
        }
        result = client.run(b.build());
      }
      return result.verificationNanos();
    }
  }

  private record Totals(long subRecords, long programs, long verifyNanos, long wallNanos) {}

  /** Runs {@code w} on every client in parallel for {@code millis}. */
  private static Totals measure(List<Client> clients, Workload w, long millis) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(clients.size());
    try {
      long start = System.nanoTime();
      long end = start + millis * 1_000_000;
      List<Future<long[]>> futures = new ArrayList<>();
      for (Client c : clients) {
        Callable<long[]> loop = () -> {
          long programs = 0;
          long verify = 0;
          while (System.nanoTime() < end) {
            verify += c.once(w);
            programs++;
          }
          return new long[] {programs, verify};
        };
        futures.add(pool.submit(loop));
      }
      long programs = 0;
      long verify = 0;
      for (Future<long[]> f : futures) {
        long[] r = f.get();
        programs += r[0];
        verify += r[1];
      }
      long wall = System.nanoTime() - start;
      return new Totals(programs * w.perProgram, programs, verify, wall);
    } finally {
      pool.shutdownNow();
    }
  }
}
