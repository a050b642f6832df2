package dev.capsulevm.renter;

import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A first end-to-end throughput probe over loopback (not a benchmark: one client, wall-clock loops).
 * Off by default; run with
 * {@code mvn -B -o -q -pl renter -am verify -Dsurefire.failIfNoSpecifiedTests=false -Dtest=ThroughputProbeTest -Dcapsulevm.probe=true}.
 */
@EnabledIfSystemProperty(named = "capsulevm.probe", matches = "true")
class ThroughputProbeTest {
  @Test
  void probe() throws Exception {
    try (TestHost host = new TestHost(); HostClient client = host.fundedClient(900_000)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 4096, 1024, "probe");
      List<byte[]> kv = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        kv.add(new byte[1024]);
        kv.get(i)[0] = (byte) i;
      }
      writer.append(client, kv);
      RecordHeader head = writer.highestHead();
      for (int round = 0; round < 2; round++) {
        long t0 = System.nanoTime();
        int reads = 0;
        long verifyNanos = 0;
        while (System.nanoTime() - t0 < 4_000_000_000L) {
          ProgramBuilder b = writer.newProgram(client);
          for (int i = 0; i < 100; i++) {
            b.readSubRecordAtHeight(1, (reads + i) % 1000, head);
          }
          ProgramResult r = client.run(b.build());
          reads += r.outputs().size();
          verifyNanos += r.verificationNanos();
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("PROBE verified 1 KiB sub-record reads/s, 100 per program: %.0f (renter verification %.1f%% of wall time)%n",
            reads / s, 100.0 * verifyNanos / (s * 1e9));
      }
      long t0 = System.nanoTime();
      int n = 0;
      while (System.nanoTime() - t0 < 3_000_000_000L) {
        ProgramBuilder b = writer.newProgram(client);
        b.readSubRecordAtHeight(1, n % 1000, head);
        client.run(b.build());
        n++;
      }
      System.out.printf("PROBE verified reads/s, 1 per program: %.0f%n", n / ((System.nanoTime() - t0) / 1e9));
      t0 = System.nanoTime();
      n = 0;
      while (System.nanoTime() - t0 < 3_000_000_000L) {
        writer.append(client, List.of(new byte[1024]));
        n++;
      }
      System.out.printf("PROBE appends/s, 1 sub-record per record, one record per program: %.0f%n",
          n / ((System.nanoTime() - t0) / 1e9));
      t0 = System.nanoTime();
      n = 0;
      List<byte[]> sixtyFour = new ArrayList<>(kv.subList(0, 64));
      while (System.nanoTime() - t0 < 3_000_000_000L) {
        writer.append(client, sixtyFour);
        n++;
      }
      System.out.printf("PROBE sub-records appended/s, 64 per record: %.0f%n", 64 * n / ((System.nanoTime() - t0) / 1e9));
    }
  }
}
