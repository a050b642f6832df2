package dev.capsulevm.bench.runner;

import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.PreparedProgram;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.ProgramResult;
import java.util.List;
import java.util.Objects;

/**
 * What programs cost at the host's default prices: the metered cost of typical workloads split into its
 * four parts, the renter's estimate (its budget) against the metered cost, and how an append's cost per
 * sub-record changes with sub-records per record. Costs are deterministic for a given program and price
 * table, so one run of each suffices; every receipt was verified and recomputed by the renter.
 */
final class MeteringExperiment implements Experiment {
  private static final int[] PER_RECORD = {1, 4, 16, 64, 256, 1024};

  @Override
  public String name() {
    return "metering";
  }

  @Override
  public String title() {
    return "Metering: what programs cost, part by part";
  }

  @Override
  public int steps(boolean quick) {
    return 5 + PER_RECORD.length;
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    Result result = new Result(title(),
        "Costs in units (1 CAP = 1,000,000 units) at the default price table of `bin/capsulevm host`, from the"
            + " host-signed receipts, which the renter recomputed to the unit. 'estimate' is the renter's cost"
            + " estimate before sending, which it pays as the budget; the difference is refunded. Reads are"
            + " anchored at the record read; proofs run from the head of a 50-record capsule.");
    result.header("workload", "instruction", "bandwidth", "memory", "storage", "total", "estimate",
        "estimate / total");
    Result.Chart chart = result.chart("Append cost per sub-record (1 KiB) against sub-records per record",
        "sub-records per record", true, "units per sub-record", true);
    try (InProcessHost host = new InProcessHost(1)) {
      HostClient client = host.clients.get(0);
      CapsuleWriter small = writer(client, "small");
      small.append(client, InProcessHost.payloads(1000, 64));
      CapsuleWriter large = writer(client, "large");
      large.append(client, InProcessHost.payloads(64, 16 * 1024));
      CapsuleWriter chain = writer(client, "chain");
      for (int i = 0; i < 50; i++) {
        chain.append(client, InProcessHost.payloads(1, 256));
      }

      row(result, "10 reads of 64 B sub-records", client.run(reads(small, 10)));
      progress.step(name() + ": small reads");
      row(result, "10 reads of 16 KiB sub-records", client.run(reads(large, 10)));
      progress.step(name() + ": large reads");
      chain.append(client, InProcessHost.payloads(16, 1024));
      row(result, "append 1 record of 16 x 1 KiB", Objects.requireNonNull(chain.lastResult(), "the append ran"));
      progress.step(name() + ": append");
      RecordHeader head = Objects.requireNonNull(chain.highestHead(), "51 appends");
      ProgramBuilder proofs = chain.newProgram(client);
      for (int h = 1; h <= 10; h++) {
        proofs.proveAtHeight(h, head);
      }
      row(result, "10 record proofs from the head, heights 1-10 of 51", client.run(proofs.build()));
      progress.step(name() + ": proofs");
      ProgramBuilder mixed = small.newProgram(client);
      RecordHeader smallHead = Objects.requireNonNull(small.highestHead(), "one append");
      for (int i = 0; i < 5; i++) {
        mixed.readSubRecordAtHeight(smallHead.height(), i, smallHead);
      }
      mixed.heads();
      mixed.has(head.hash());
      row(result, "mixed: 5 reads, heads, has", client.run(mixed.build()));
      progress.step(name() + ": mixed");

      CapsuleWriter growth = writer(client, "growth");
      double firstPerSubRecord = 0;
      double lastPerSubRecord = 0;
      for (int k : PER_RECORD) {
        growth.append(client, InProcessHost.payloads(k, 1024));
        ProgramResult appended = Objects.requireNonNull(growth.lastResult(), "the append ran");
        CostBreakdown cost = appended.receipt().cost();
        row(result, "append 1 record of " + k + " x 1 KiB", appended);
        chart.point("total", k, (double) cost.total().units() / k);
        lastPerSubRecord = (double) cost.total().units() / k;
        if (k == PER_RECORD[0]) {
          firstPerSubRecord = lastPerSubRecord;
        }
        chart.point("storage", k, (double) cost.storage().units() / k);
        chart.point("instruction", k, (double) cost.instruction().units() / k);
        chart.point("bandwidth", k, (double) cost.bandwidth().units() / k);
        progress.step(name() + ": append of " + k);
      }
      result.finding(String.format("Appending costs %,.0f units per 1 KiB sub-record with one per record and"
          + " %,.0f with %d per record (%.2fx less): the per-record and per-program parts are shared, the"
          + " per-byte parts are not.", firstPerSubRecord, lastPerSubRecord, PER_RECORD[PER_RECORD.length - 1],
          firstPerSubRecord / lastPerSubRecord));
    }
    result.finding(String.format("The renter's estimate (its budget, refunded down to the metered cost) is at most"
        + " %.1fx the metered cost, for '%s'. The estimate bounds a read's payload by the capsule's largest"
        + " sub-record (here 32 KiB) and a proof by its exact path when the renter holds the headers on it, else by"
        + " one header of the largest possible size per height.", widest, widestWorkload));
    return result.finding("Every receipt above matched the renter's own recomputation to the unit (the SDK"
        + " refuses one that does not); the estimate is an upper bound by construction.");
  }

  private static CapsuleWriter writer(HostClient client, String name) throws Exception {
    return CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD,
        4096, 32 * 1024, "metering " + name);
  }

  private static PreparedProgram reads(CapsuleWriter capsule, int count) {
    RecordHeader head = Objects.requireNonNull(capsule.highestHead(), "run() appended to it");
    ProgramBuilder b = capsule.newProgram(null);
    for (int i = 0; i < count; i++) {
      b.readSubRecordAtHeight(head.height(), i, head);
    }
    return b.build();
  }

  /** The widest estimate against metered cost seen, and the workload it was for. */
  private double widest;
  private String widestWorkload = "";

  private void row(Result result, String workload, ProgramResult run) {
    CostBreakdown cost = run.receipt().cost();
    long total = cost.total().units();
    double ratio = (double) run.estimate().total().units() / total;
    if (ratio > widest) {
      widest = ratio;
      widestWorkload = workload;
    }
    result.row(workload, cost.instruction().units(), cost.bandwidth().units(), cost.memory().units(),
        cost.storage().units(), total, run.estimate().total().units(),
        String.format("%.2f", (double) run.estimate().total().units() / total));
  }
}
