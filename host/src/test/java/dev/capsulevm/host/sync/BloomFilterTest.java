package dev.capsulevm.host.sync;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class BloomFilterTest {
  @Test
  void noFalseNegativesAndAboutTheTargetFalsePositiveRate() {
    List<SyncRecord> records = Dags.random(1, 40_000, 4, 0.05);
    InMemoryDag in = Dags.replica(records.subList(0, 20_000));
    SessionKey key = RatelessIbltTest.key(1);
    BloomFilter f = BloomFilter.of(key, in, 0.01);
    for (SyncRecord r : records.subList(0, 20_000)) {
      assertTrue(f.mightContain(r.id()));
    }
    int fp = 0;
    for (SyncRecord r : records.subList(20_000, 40_000)) {
      fp += f.mightContain(r.id()) ? 1 : 0;
    }
    double rate = fp / 20_000.0;
    assertTrue(rate > 0.005 && rate < 0.015, "false-positive rate " + rate);
    // under another key, the false positives are other records
    BloomFilter g = BloomFilter.of(RatelessIbltTest.key(2), in, 0.01);
    int both = 0;
    for (SyncRecord r : records.subList(20_000, 40_000)) {
      both += f.mightContain(r.id()) && g.mightContain(r.id()) ? 1 : 0;
    }
    assertTrue(both < 10, both + " records are false positives under both keys");
  }
}
