package dev.capsulevm.bench.runner;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.privacy.EpochSecret;
import dev.capsulevm.proofs.privacy.RecordCipher;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.access.EncryptionKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What encryption costs a renter of a private capsule (docs/FORMAT.md, "Private capsules: encryption"):
 * appends and verified reads through the SDK against an in-process host, on a plain (version-2) capsule and
 * a private (version-3) one side by side in the same run. A private append encrypts every sub-record (one
 * HPKE set-up to the epoch key per record, ChaCha20-Poly1305 per sub-record) and stores 16 bytes more per
 * sub-record; a private read is verified exactly as a plain one and then decrypted (the epoch secret is
 * held after the first read; the record's data key costs one HPKE set-up, kept for the record's other
 * sub-records). Each read takes another record than the reads just before it, so every read pays its
 * record's set-up.
 */
final class PrivateExperiment implements Experiment {
  private static final int PAYLOAD_BYTES = 1024;
  private static final int MANY = 64;
  private static final SecureRandom RANDOM = new SecureRandom();

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
    READ_ONE("read 1 sub-record of a record (verified, then decrypted)"),
    READ_MANY("read the " + MANY + " sub-records of a record in one program");

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
    return quick ? 100 : 400;
  }

  private static int warmups(boolean quick) {
    return quick ? 20 : 50;
  }

  /** A capsule under test: its writer, and the records the reads read. */
  private static final class Side {
    final CapsuleWriter writer;
    final HostClient client;
    /** The records the appends wrote: each read takes the next, so no read finds its record's key kept. */
    final List<RecordWithBody> ones = new ArrayList<>();
    final List<RecordWithBody> manys = new ArrayList<>();
    long bytesSent;

    Side(CapsuleWriter writer, HostClient client) {
      this.writer = writer;
      this.client = client;
    }

    void run(Workload workload, List<byte[]> payloads, int iteration) throws Exception {
      switch (workload) {
        case APPEND_ONE -> ones.add(writer.append(client, List.of(distinct(payloads.get(0), iteration))).get(0));
        case APPEND_MANY -> {
          List<byte[]> fresh = new ArrayList<>();
          payloads.forEach(p -> fresh.add(distinct(p, iteration)));
          manys.add(writer.append(client, fresh).get(0));
        }
        case READ_ONE -> {
          byte[] plaintext = writer.read(client, ones.get(iteration % ones.size()).hash(), 0);
          check(plaintext.length == PAYLOAD_BYTES, "read back " + plaintext.length + " bytes");
        }
        case READ_MANY -> {
          RecordWithBody record = manys.get(iteration % manys.size());
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

  /**
   * The renter-side cryptography of one operation alone, as the SDK does it: a writer's HPKE encapsulation to
   * the epoch key and ChaCha20-Poly1305 per sub-record; a reader's HPKE set-up with the epoch's key pair and
   * the opening of each sub-record.
   */
  private static final class Crypto {
    final EpochSecret secret = EpochSecret.generate(RANDOM);
    final Hash capsule = Hash.copyOf(new byte[32]);
    final PublicKey writer = SigningKey.generate().publicKey();
    final RecordCipher sealed = RecordCipher.forWriter(secret.epochKey(), capsule, writer, 1, RANDOM);
    final List<byte[]> ciphertexts = new ArrayList<>();

    Crypto(List<byte[]> payloads) {
      for (int i = 0; i < payloads.size(); i++) {
        ciphertexts.add(sealed.seal(i, payloads.get(i)));
      }
    }

    void run(Workload workload, List<byte[]> payloads) throws Exception {
      int n = workload == Workload.APPEND_ONE || workload == Workload.READ_ONE ? 1 : MANY;
      if (workload == Workload.APPEND_ONE || workload == Workload.APPEND_MANY) {
        RecordCipher cipher = RecordCipher.forWriter(secret.epochKey(), capsule, writer, 1, RANDOM);
        for (int i = 0; i < n; i++) {
          cipher.seal(i, payloads.get(i));
        }
      } else {
        RecordCipher cipher = RecordCipher.forReader(secret, sealed.enc(), capsule, writer, 1);
        for (int i = 0; i < n; i++) {
          check(cipher.open(i, ciphertexts.get(i)).length == PAYLOAD_BYTES, "opened " + i);
        }
      }
    }
  }

  private static double median(Map<Workload, Samples> samples, Workload workload) {
    return Objects.requireNonNull(samples.get(workload), workload.label).median();
  }

  private static String loadAverage() {
    try {
      String line = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII);
      int space = line.indexOf(' ');
      return space < 0 ? line.trim() : line.substring(0, space);
    } catch (IOException | RuntimeException e) {
      return "unknown";
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
        + " verified (proof from the writer's head) before it is decrypted, and reads a record the appends above"
        + " wrote, another than the reads just before it, so that each pays its record's key set-up.");
    result.header("operation", "plain (ms)", "private (ms)", "private / plain", "renter crypto alone (ms)",
        "append bytes sent (plain / private)");
    String loadBefore = loadAverage();
    try (InProcessHost host = new InProcessHost(1)) {
      HostClient client = host.clients.get(0);
      SigningKey key = host.accounts.get(0);
      Side plain = new Side(CapsuleWriter.create(client, key, key, SigningPolicy.EVERY_RECORD, MANY,
          2 * PAYLOAD_BYTES, "plain"), client);
      Side secret = new Side(CapsuleWriter.createPrivate(client, key, key, EncryptionKey.generate(),
          Map.of(), SigningPolicy.EVERY_RECORD, MANY, 2 * PAYLOAD_BYTES, "private"), client);
      List<byte[]> payloads = InProcessHost.payloads(MANY, PAYLOAD_BYTES);
      Crypto crypto = new Crypto(payloads);
      Map<Workload, Samples> cryptoAlone = new EnumMap<>(Workload.class);
      double appendOneRatio = 0;
      double readOneRatio = 0;
      double plainAppendOne = 0;
      double plainReadOne = 0;
      int iteration = 0;
      for (Workload workload : Workload.values()) {
        for (int i = 0; i < warmups; i++, iteration++) {
          plain.run(workload, payloads, iteration);
          secret.run(workload, payloads, iteration);
          crypto.run(workload, payloads);
        }
        double[] plainMillis = new double[runs];
        double[] privateMillis = new double[runs];
        double[] cryptoMillis = new double[runs];
        for (int i = 0; i < runs; i++, iteration++) {
          boolean plainFirst = i % 2 == 0;
          for (Side side : plainFirst ? List.of(plain, secret) : List.of(secret, plain)) {
            long start = System.nanoTime();
            side.run(workload, payloads, iteration);
            double millis = (System.nanoTime() - start) / 1e6;
            (side == plain ? plainMillis : privateMillis)[i] = millis;
          }
          long start = System.nanoTime();
          crypto.run(workload, payloads);
          cryptoMillis[i] = (System.nanoTime() - start) / 1e6;
        }
        cryptoAlone.put(workload, new Samples(cryptoMillis));
        Samples p = new Samples(plainMillis);
        Samples s = new Samples(privateMillis);
        double ratio = s.median() / p.median();
        boolean append = workload == Workload.APPEND_ONE || workload == Workload.APPEND_MANY;
        result.row(workload.label, p.format(2), s.format(2), String.format("%.2f", ratio),
            Objects.requireNonNull(cryptoAlone.get(workload)).format(3), append ? plain.bytesSent + " / " + secret.bytesSent : "");
        if (workload == Workload.APPEND_ONE) {
          appendOneRatio = ratio;
          plainAppendOne = p.median();
        } else if (workload == Workload.READ_ONE) {
          readOneRatio = ratio;
          plainReadOne = p.median();
        }
        progress.step(name() + ": " + workload.label);
      }
      result.finding(String.format("The renter's cryptography alone (measured in the same run) costs %.3f ms"
          + " per append of one sub-record and %.3f ms per append of %d (one HPKE encapsulation per record,"
          + " ChaCha20-Poly1305 per sub-record), %.3f ms per read of one sub-record and %.3f ms to open all %d"
          + " (one HPKE set-up per record): %.1f%% and %.1f%% of the plain append's and read's medians.",
          median(cryptoAlone, Workload.APPEND_ONE), median(cryptoAlone, Workload.APPEND_MANY), MANY,
          median(cryptoAlone, Workload.READ_ONE), median(cryptoAlone, Workload.READ_MANY), MANY,
          100 * median(cryptoAlone, Workload.APPEND_ONE) / plainAppendOne,
          100 * median(cryptoAlone, Workload.READ_ONE) / plainReadOne));
      result.finding(String.format("End to end, a private append of one sub-record took %.2fx the plain one"
          + " (median against median) and a verified private read %.2fx. The machine's load average (1 min) was"
          + " %s at the start and %s at the end, so the end-to-end medians carry that noise; the crypto column"
          + " is what encryption adds.", appendOneRatio, readOneRatio, loadBefore, loadAverage()));
      result.finding("A private sub-record is stored and sent 16 bytes longer (the Poly1305 tag), and a data"
          + " record's header 64 bytes longer (epoch key and enc): the bytes sent per append above.");
    }
    return result;
  }
}
