package dev.capsulevm.bench.runner;

import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.access.EncryptionKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What encryption costs a renter of a private capsule (docs/FORMAT.md, "Private capsules: encryption"):
 * appends and verified reads through the SDK against an in-process host, on a plain (version-2) capsule and
 * a private (version-3) one side by side in the same run. A private append encrypts every sub-record (one
 * HPKE set-up to the epoch key per record, ChaCha20-Poly1305 per sub-record) and stores 16 bytes more per
 * sub-record; a private read is verified exactly as a plain one and then decrypted (the epoch secret is
 * held after the first read; the record's data key costs one HPKE set-up, kept for the record's other
 * sub-records).
 */
final class PrivateExperiment implements Experiment {
  private static final int PAYLOAD_BYTES = 1024;
  private static final int MANY = 64;

  @Override
  public String name() {
    return "private";
  }

  @Override
  public String title() {
    return "Private capsules: encrypted against plain appends and reads, same run";
  }

  /** One operation, timed on both capsules. */
  private enum Workload {
    APPEND_ONE("append 1 record of 1 sub-record"),
    APPEND_MANY("append 1 record of " + MANY + " sub-records"),
    READ_ONE("read 1 sub-record (verified, then decrypted)"),
    READ_MANY("read " + MANY + " sub-records of a record in one program");

    final String label;

    Workload(String label) {
      this.label = label;
    }
  }

  @Override
  public int steps(boolean quick) {
    return Workload.values().length;
  }

  private static int runs(boolean quick) {
    return quick ? 40 : 200;
  }

  private static int warmups(boolean quick) {
    return quick ? 15 : 50;
  }

  /** A capsule under test: its writer, and the records the reads read. */
  private static final class Side {
    final CapsuleWriter writer;
    final HostClient client;
    @Nullable RecordWithBody one;
    @Nullable RecordWithBody many;
    long bytesSent;

    Side(CapsuleWriter writer, HostClient client) {
      this.writer = writer;
      this.client = client;
    }

    void run(Workload workload, List<byte[]> payloads, int iteration) throws Exception {
      switch (workload) {
        case APPEND_ONE -> one = writer.append(client, List.of(distinct(payloads.get(0), iteration))).get(0);
        case APPEND_MANY -> {
          List<byte[]> fresh = new ArrayList<>();
          payloads.forEach(p -> fresh.add(distinct(p, iteration)));
          many = writer.append(client, fresh).get(0);
        }
        case READ_ONE -> {
          byte[] plaintext = writer.read(client, Objects.requireNonNull(one).hash(), 0);
          check(plaintext.length == PAYLOAD_BYTES, "read back " + plaintext.length + " bytes");
        }
        case READ_MANY -> {
          RecordWithBody record = Objects.requireNonNull(many);
          RecordHeader anchor = Objects.requireNonNull(writer.highestHead());
          ProgramBuilder builder = writer.newProgram(client);
          for (int i = 0; i < MANY; i++) {
            builder.readSubRecord(record.hash(), i, anchor);
          }
          ProgramResult result = client.run(builder.build());
          for (int i = 0; i < MANY; i++) {
            check(writer.plaintext(client, result.output(i)).length == PAYLOAD_BYTES, "sub-record " + i);
          }
        }
      }
      ProgramResult last = writer.lastResult();
      if (last != null && (workload == Workload.APPEND_ONE || workload == Workload.APPEND_MANY)) {
        bytesSent = last.bytesSent();
      }
    }
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException("the experiment read something wrong: " + what);
    }
  }

  /** {@code payload} made distinct for {@code iteration} (the host refuses a record it holds). */
  private static byte[] distinct(byte[] payload, int iteration) {
    byte[] out = payload.clone();
    for (int b = 0; b < 4; b++) {
      out[out.length - 1 - b] = (byte) (iteration >>> (8 * b));
    }
    return out;
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    int runs = runs(quick);
    int warmups = warmups(quick);
    Result result = new Result(title(), "Host and renter in one JVM over gRPC on loopback (LMDB, synced commits). Two"
        + " capsules of one writer, created side by side: plain (format 2) and private (format 3, one reader: the"
        + " writer). Sub-records of " + PAYLOAD_BYTES + " bytes. Per operation, " + warmups + " unmeasured runs on"
        + " each capsule, then " + runs + " measured runs that alternate plain and private, so that the load of the"
        + " shared machine drifts alike over both; the table gives the median and the range (ms). Every read is"
        + " verified (proof from the writer's head) before it is decrypted.");
    result.header("operation", "plain (ms)", "private (ms)", "private / plain", "append bytes sent (plain / private)");
    try (InProcessHost host = new InProcessHost(1)) {
      HostClient client = host.clients.get(0);
      SigningKey key = host.accounts.get(0);
      Side plain = new Side(CapsuleWriter.create(client, key, key, SigningPolicy.EVERY_RECORD, MANY,
          2 * PAYLOAD_BYTES, "plain"), client);
      Side secret = new Side(CapsuleWriter.createPrivate(client, key, key, EncryptionKey.generate(),
          Map.of(), SigningPolicy.EVERY_RECORD, MANY, 2 * PAYLOAD_BYTES, "private"), client);
      List<byte[]> payloads = InProcessHost.payloads(MANY, PAYLOAD_BYTES);
      double appendOneRatio = 0;
      double readOneRatio = 0;
      int iteration = 0;
      for (Workload workload : Workload.values()) {
        for (int i = 0; i < warmups; i++, iteration++) {
          plain.run(workload, payloads, iteration);
          secret.run(workload, payloads, iteration);
        }
        double[] plainMillis = new double[runs];
        double[] privateMillis = new double[runs];
        for (int i = 0; i < runs; i++, iteration++) {
          boolean plainFirst = i % 2 == 0;
          for (Side side : plainFirst ? List.of(plain, secret) : List.of(secret, plain)) {
            long start = System.nanoTime();
            side.run(workload, payloads, iteration);
            double millis = (System.nanoTime() - start) / 1e6;
            (side == plain ? plainMillis : privateMillis)[i] = millis;
          }
        }
        Samples p = new Samples(plainMillis);
        Samples s = new Samples(privateMillis);
        double ratio = s.median() / p.median();
        boolean append = workload == Workload.APPEND_ONE || workload == Workload.APPEND_MANY;
        result.row(workload.label, p.format(2), s.format(2), String.format("%.2f", ratio),
            append ? plain.bytesSent + " / " + secret.bytesSent : "");
        if (workload == Workload.APPEND_ONE) {
          appendOneRatio = ratio;
        } else if (workload == Workload.READ_ONE) {
          readOneRatio = ratio;
        }
        progress.step(name() + ": " + workload.label);
      }
      result.finding(String.format("A private append of one record of one sub-record takes %.2fx the plain one"
          + " (median against median), a verified private read of one sub-record %.2fx: on top of the same"
          + " program, signature and proof checks, the writer makes one HPKE encapsulation per record and the"
          + " reader one X25519 agreement per record, then ChaCha20-Poly1305 per sub-record.", appendOneRatio,
          readOneRatio));
      result.finding("A private sub-record is stored and sent 16 bytes longer (the Poly1305 tag), and a data"
          + " record's header 64 bytes longer (epoch key and enc): the bytes sent per append above.");
    }
    return result;
  }
}
