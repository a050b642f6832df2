package dev.capsulevm.bench.runner;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.integrity.ProofCache;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Proving every record of a capsule, newest to oldest and in random order, with and without the renter's
 * proof cache and with and without skip pointers; then how proof time and size grow with capsule length.
 *
 * <p>With the cache, the renter names as anchor the lowest record it has already verified at or above the
 * target (any verified record is as trusted as the head it was proven from), so the host's proof is
 * short, and the verifier stops at any cached header. Without skip pointers, the proof walks the primary
 * chain one record at a time, as a capsule without skip pointers forces. Every proof crosses as bytes
 * and is parsed by the renter.
 */
final class ProofCacheExperiment implements Experiment {
  private static final int PAYLOAD_BYTES = 64;

  @Override
  public String name() {
    return "proofcache";
  }

  @Override
  public String title() {
    return "Proof cache and skip pointers";
  }

  @Override
  public int steps(boolean quick) {
    return 8 + lengths(quick).length;
  }

  private static int[] lengths(boolean quick) {
    return quick ? new int[] {1_000, 10_000, 100_000} : new int[] {1_000, 10_000, 100_000, 1_000_000};
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    int records = quick ? 2_000 : 10_000;
    int runs = 3;
    Workload.Chain chain = new Workload.Chain(records, 1, PAYLOAD_BYTES, 7);
    Result result = new Result(title(),
        "Proving all " + records + " records of a linear capsule (one 64-byte sub-record each) from its head:"
            + " host generation plus renter parsing and verification, median of " + runs + " runs (range)."
            + " With the cache, the renter anchors each proof at the lowest record it has verified at or above"
            + " the target. Then, for capsules of growing length, 1,000 random records proven from the head"
            + " with skip pointers and no cache.");
    result.header("order", "skip pointers", "cache", "time (ms)", "per proof (µs)", "mean proof (bytes)",
        "speed-up over no cache");
    for (String order : List.of("reverse", "random")) {
      for (boolean skips : List.of(true, false)) {
        double noCache = 0;
        for (boolean cache : List.of(false, true)) {
          long[] bytes = new long[1];
          Samples time = Samples.timeMillis(skips || cache ? 1 : 0, runs,
              () -> bytes[0] = proveAll(chain, order(records, order), skips, cache));
          double gain = 0;
          if (!cache) {
            noCache = time.median();
          } else {
            gain = noCache / time.median();
            result.finding(String.format("%s order, %s skip pointers: the cache makes proving %.1fx faster"
                + " (%.1f µs per proof instead of %.1f; the paper reports up to 20x for reverse sequential"
                + " proving).", order.equals("reverse") ? "Reverse" : "Random", skips ? "with" : "without", gain,
                time.median() * 1000 / records, noCache * 1000 / records));
          }
          result.row(order, skips ? "yes" : "no", cache ? "yes" : "no", time.format(1),
              String.format("%.1f", time.median() * 1000 / records), bytes[0] / records,
              cache ? String.format("%.1fx", gain) : "");
          progress.step(name() + ": " + order + (skips ? ", skips" : ", no skips") + (cache ? ", cache" : ""));
        }
      }
    }

    Result.Chart chart = result.chart("Proof from the head against capsule length", "capsule length (records)",
        true, "per proof: time (µs), headers", true);
    Random random = new Random(11);
    for (int length : lengths(quick)) {
      Workload.Chain big = new Workload.Chain(length, 1, PAYLOAD_BYTES, length);
      int samples = 1_000;
      List<Integer> heights = new ArrayList<>();
      for (int i = 0; i < samples; i++) {
        heights.add(1 + random.nextInt(length));
      }
      long[] bytes = new long[1];
      long[] headers = new long[1];
      Samples time = Samples.timeMillis(1, runs, () -> {
        bytes[0] = 0;
        headers[0] = 0;
        ProofGenerator generator = new ProofGenerator(big.source);
        Hash head = big.head();
        for (int h : heights) {
          Hash target = big.at(h).hash();
          RecordProof proof = Wire.parseRecordProof(Wire.encode(generator.recordProof(head, target)));
          new ProofVerifier(null).verifyRecord(head, target, proof);
          bytes[0] += Wire.headerBytes(proof);
          headers[0] += proof.headers().size();
        }
      });
      double micros = time.median() * 1000 / samples;
      chart.point("time per proof (µs)", length, micros);
      chart.point("headers per proof", length, (double) headers[0] / samples);
      result.finding(String.format("Capsule of %,d records: %.1f µs per proof from the head (median of %d runs"
          + " of %d random proofs), %.1f headers and %,d bytes per proof on average.", length, micros, runs,
          samples, (double) headers[0] / samples, bytes[0] / samples));
      progress.step(name() + ": growth, " + length + " records");
    }
    return result;
  }

  private static List<Integer> order(int records, String order) {
    List<Integer> heights = new ArrayList<>(records);
    for (int h = records; h >= 1; h--) {
      heights.add(h);
    }
    if (order.equals("random")) {
      Collections.shuffle(heights, new Random(records));
    }
    return heights;
  }

  /** Proves every height in {@code heights}; returns the total proof bytes (headers). */
  private static long proveAll(Workload.Chain chain, List<Integer> heights, boolean skips, boolean cache)
      throws Exception {
    ProofGenerator generator = new ProofGenerator(chain.source);
    ProofVerifier verifier = new ProofVerifier(cache ? new ProofCache(heights.size() + 1) : null);
    TreeMap<Long, Hash> verified = new TreeMap<>();
    Hash head = chain.head();
    long length = chain.headers.size();
    verified.put(length, head);
    long bytes = 0;
    for (int h : heights) {
      Map.Entry<Long, Hash> anchor = cache ? verified.ceilingEntry((long) h) : Map.entry(length, head);
      Hash target = chain.at(h).hash();
      RecordProof sent = skips ? generator.recordProof(anchor.getValue(), target)
          : primaryChain(chain, anchor.getKey(), h);
      RecordProof proof = Wire.parseRecordProof(Wire.encode(sent));
      RecordHeader proven = verifier.verifyRecord(anchor.getValue(), target, proof);
      bytes += Wire.headerBytes(proof);
      if (cache) {
        verified.put(proven.height(), target);
      }
    }
    return bytes;
  }

  /** The proof without skip pointers: every header from the anchor's height down to the target's. */
  private static RecordProof primaryChain(Workload.Chain chain, long anchorHeight, long targetHeight) {
    List<RecordHeader> headers = new ArrayList<>();
    for (long h = anchorHeight; h >= targetHeight; h--) {
      headers.add(chain.at(h));
    }
    return new RecordProof(headers);
  }
}
