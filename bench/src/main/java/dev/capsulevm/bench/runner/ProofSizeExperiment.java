package dev.capsulevm.bench.runner;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import java.util.Random;

/**
 * Bytes per proof as the renter receives it (the canonical output bytes of a {@code Prove}): a record
 * proof from the head against capsule length, and a sub-record proof against sub-records per record for
 * a fixed number of sub-records.
 */
final class ProofSizeExperiment implements Experiment {
  private static final int SAMPLES = 1_000;
  private static final int[] PER_RECORD = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

  @Override
  public String name() {
    return "proofsize";
  }

  @Override
  public String title() {
    return "Proof sizes";
  }

  private static int[] lengths(boolean quick) {
    return quick ? new int[] {1_000, 10_000, 100_000} : new int[] {1_000, 10_000, 100_000, 1_000_000};
  }

  @Override
  public int steps(boolean quick) {
    return lengths(quick).length + PER_RECORD.length;
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    int subRecords = quick ? 2_000 : 10_000;
    Result result = new Result(title(),
        "Bytes of a proof's canonical output (docs/PROTOCOL.md, \"Outputs\") for " + SAMPLES
            + " random targets proven from the head: median, and the range in brackets. Record proofs in a"
            + " linear capsule of one sub-record per record; sub-record proofs for " + subRecords
            + " sub-records of 64 bytes grouped k per record.");
    result.header("capsule", "records", "sub-records per record", "proof bytes", "headers");
    Result.Chart byLength = result.chart("Record proof against capsule length", "capsule length (records)", true,
        "proof bytes (median)", true);
    Result.Chart byGrouping = result.chart("Sub-record proof against sub-records per record",
        "sub-records per record", true, "proof bytes (median)", true);
    Random random = new Random(5);
    double[] recordProofs = new double[lengths(quick).length];
    int row = 0;
    for (int length : lengths(quick)) {
      Workload.Chain chain = new Workload.Chain(length, 1, 64, length);
      double[] bytes = new double[SAMPLES];
      double[] headers = new double[SAMPLES];
      ProofGenerator generator = new ProofGenerator(chain.source);
      for (int i = 0; i < SAMPLES; i++) {
        var proof = generator.recordProof(chain.head(), chain.at(1 + random.nextInt(length)).hash());
        bytes[i] = Wire.encode(proof).length;
        headers[i] = proof.headers().size();
      }
      Samples size = new Samples(bytes);
      result.row("record proof", length, 1, size.format(0), new Samples(headers).format(1));
      byLength.point("record proof", length, size.median());
      recordProofs[row++] = size.median();
      progress.step(name() + ": " + length + " records");
    }
    double[] subRecordProofs = new double[PER_RECORD.length];
    row = 0;
    for (int k : PER_RECORD) {
      int records = (subRecords + k - 1) / k;
      Workload.Chain chain = new Workload.Chain(records, k, 64, k);
      double[] bytes = new double[SAMPLES];
      double[] headers = new double[SAMPLES];
      ProofGenerator generator = new ProofGenerator(chain.source);
      Hash head = chain.head();
      for (int i = 0; i < SAMPLES; i++) {
        int sub = random.nextInt(subRecords);
        var proof = generator.subRecordProof(head, chain.headers.get(sub / k).hash(), sub % k,
            chain.trees.get(sub / k));
        bytes[i] = Wire.encode(proof).length;
        headers[i] = proof.recordProof().headers().size();
      }
      Samples size = new Samples(bytes);
      result.row("sub-record proof", records, k, size.format(0), new Samples(headers).format(1));
      byGrouping.point("sub-record proof", k, size.median());
      subRecordProofs[row++] = size.median();
      progress.step(name() + ": " + k + " per record");
    }
    int[] lengths = lengths(quick);
    result.finding(String.format("A record proof's median grows from %,.0f bytes at %,d records to %,.0f bytes at"
        + " %,d (%.1fx for %,dx the length).", recordProofs[0], lengths[0], recordProofs[lengths.length - 1],
        lengths[lengths.length - 1], recordProofs[lengths.length - 1] / recordProofs[0],
        lengths[lengths.length - 1] / lengths[0]));
    return result.finding(String.format("A sub-record proof's median is %,.0f bytes with one sub-record per record"
        + " and %,.0f bytes with %d (%.2fx).", subRecordProofs[0], subRecordProofs[PER_RECORD.length - 1],
        PER_RECORD[PER_RECORD.length - 1], subRecordProofs[PER_RECORD.length - 1] / subRecordProofs[0]));
  }
}
