package dev.capsulevm.bench.runner;

import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.ChunkedAppender;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RangeReader;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A large file through a capsule and back, as {@code capsulevm capsule append --file} and {@code capsule read
 * --from --to --out} do it (the same SDK code: {@link ChunkedAppender}, {@link RangeReader}): a file of
 * pseudo-random bytes (1 GiB, {@code -Dbigfile.mib=N} for another size; 64 MiB with {@code --quick}) is
 * appended to an in-process host in 4 KiB sub-records, records of 4 MiB, then read back, every sub-record
 * verified, to another file, and the two files' SHA-256 compared. Measured: the time of each phase and the
 * memory the JVM (renter and host together) needed: the largest heap left after a collection (what was
 * live), the largest heap in use including garbage, and the largest anonymous resident memory (heap and
 * native, without the LMDB file's mapped pages), sampled every 20 ms.
 */
final class BigFileExperiment implements Experiment {
  private static final int BLOCK = 1 << 20;

  @Override
  public String name() {
    return "bigfile";
  }

  @Override
  public String title() {
    return "A 1 GiB file appended and read back, verified, in bounded memory";
  }

  @Override
  public int steps(boolean quick) {
    return 3;
  }

  private static long bytes(boolean quick) {
    long mib = Long.getLong("bigfile.mib", quick ? 64 : 1024);
    return mib << 20;
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    long size = bytes(quick);
    Path dir = Files.createTempDirectory("capsulevm-bigfile");
    try (InProcessHost host = new InProcessHost(1)) {
      Path in = dir.resolve("in.bin");
      Path out = dir.resolve("out.bin");
      String inSha = writeInput(in, size);
      progress.step(name() + ": wrote the input");
      HostClient client = host.clients.get(0);
      SigningKey creator = SigningKey.generate();
      CapsuleWriter writer = CapsuleWriter.create(client, creator, creator, SigningPolicy.EVERY_RECORD, 65_536, 4096,
          "bigfile");
      ChunkedAppender.Layout layout = ChunkedAppender.Layout.forCapsule(writer.metadata(),
          client.priceTable().limits(), null, null);

      AtomicLong appendPrograms = new AtomicLong();
      Phase append = Phase.run(() -> {
        try (InputStream stream = Files.newInputStream(in)) {
          ChunkedAppender.Summary summary = ChunkedAppender.append(client, writer, stream, layout,
              (record, result, soFar) -> appendPrograms.incrementAndGet());
          if (!HexFormat.of().formatHex(summary.sha256()).equals(inSha) || summary.bytes() != size) {
            throw new IllegalStateException("the appender read other bytes than the file holds");
          }
          return summary;
        }
      });
      ChunkedAppender.Summary appended = (ChunkedAppender.Summary) append.value;
      progress.step(name() + ": appended");

      RecordHeader head = Objects.requireNonNull(writer.highestHead(), "the append left a head");
      RangeReader reader = new RangeReader(client, RangeReader.source(writer, client), writer.metadata(),
          RangeReader.DEFAULT_WINDOW_BYTES);
      AtomicLong readPrograms = new AtomicLong();
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      Phase read = Phase.run(() -> {
        try (OutputStream stream = new BufferedOutputStream(Files.newOutputStream(out), 1 << 16)) {
          return reader.read(head, Objects.requireNonNull(appended.first()), Objects.requireNonNull(appended.last()),
              (record, index, plaintext) -> {
                digest.update(plaintext);
                stream.write(plaintext);
              },
              new RangeReader.Listener() {
                @Override
                public void ran(ProgramResult result) {
                  readPrograms.incrementAndGet();
                }
              });
        }
      });
      RangeReader.Summary readBack = (RangeReader.Summary) read.value;
      String outSha = HexFormat.of().formatHex(digest.digest());
      String fileSha = sha256(out);
      progress.step(name() + ": read back");
      if (!outSha.equals(inSha) || !fileSha.equals(inSha) || Files.size(out) != size) {
        throw new IllegalStateException("the bytes read back differ: " + fileSha + " against " + inSha);
      }

      long maxHeap = Runtime.getRuntime().maxMemory();
      Result result = new Result(title(), "Host and renter in one JVM over gRPC on loopback (LMDB, synced commits), as"
          + " the SDK code behind `capsule append --file` and `capsule read --from --to --out` runs: a file of "
          + mib(size) + " MiB of pseudo-random bytes is appended in sub-records of " + layout.chunkBytes()
          + " bytes, " + layout.subRecordsPerRecord() + " per record (one append program per record, each"
          + " committed and verified before the next is read from the file), then read back in programs of at"
          + " most " + mib(RangeReader.DEFAULT_WINDOW_BYTES) + " MiB of reads, each record proven from the head"
          + " first and each sub-record verified (its inclusion in the record) before it is written to the output"
          + " file. The JVM's maximum heap was " + mib(maxHeap) + " MiB (`-Xmx`). Memory is sampled every 20 ms"
          + " and covers the renter and the host together: the heap left after the latest collection (an upper"
          + " bound of what was live: a young collection leaves the old generation's garbage), the heap in use"
          + " (live and garbage, which the collector lets grow towards the maximum), and the anonymous resident"
          + " memory (heap and native, not the LMDB file's mapped pages). One run.");
      result.header("phase", "bytes", "seconds", "MiB/s", "records", "programs", "heap after a collection, max (MiB)",
          "heap in use, max (MiB)", "anonymous RSS, max (MiB)");
      result.row("append (file to capsule)", size, secs(append), String.format("%.1f", rate(size, append)), appended.records().size(),
          appendPrograms.get(), mib(append.liveHeap), mib(append.usedHeap), mib(append.rssAnon));
      result.row("read back (capsule to file, verified)", readBack.bytes(), secs(read), String.format("%.1f", rate(size, read)),
          readBack.records(), readPrograms.get(), mib(read.liveHeap), mib(read.usedHeap), mib(read.rssAnon));
      result.finding("Read back: " + readBack.bytes() + " bytes in " + readBack.subRecords() + " sub-records of "
          + readBack.records() + " records, every one verified; the output file's SHA-256 equals the input's ("
          + inSha + ").");
      result.finding(String.format("Memory stayed bounded: at most %d MiB of heap was left after a collection"
              + " (append %d, read %d) for a %d MiB file, within a %d MiB heap; the process's anonymous resident"
              + " memory peaked at %d MiB, its resident high-water mark (with the LMDB file's pages) at %d MiB.",
          mib(Math.max(append.liveHeap, read.liveHeap)), mib(append.liveHeap), mib(read.liveHeap), mib(size),
          mib(maxHeap), mib(Math.max(append.rssAnon, read.rssAnon)), mib(status("VmHWM"))));
      result.finding(String.format("Throughput: append %.1f MiB/s, verified read %.1f MiB/s on this machine"
          + " (load average %.1f at the end: the machine is shared).", rate(size, append), rate(size, read),
          ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
      return result;
    } finally {
      for (String name : List.of("in.bin", "out.bin", "out.bin.part")) {
        Files.deleteIfExists(dir.resolve(name));
      }
      Files.deleteIfExists(dir);
    }
  }

  /** Writes {@code size} pseudo-random bytes (seeded: the same file every run) and returns their SHA-256. */
  private static String writeInput(Path file, long size) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    SplittableRandom random = new SplittableRandom(18);
    byte[] block = new byte[BLOCK];
    try (OutputStream stream = Files.newOutputStream(file)) {
      for (long written = 0; written < size; written += BLOCK) {
        int n = (int) Math.min(BLOCK, size - written);
        for (int i = 0; i < n; i += 8) {
          long word = random.nextLong();
          for (int b = 0; b < 8 && i + b < n; b++) {
            block[i + b] = (byte) (word >>> (8 * b));
          }
        }
        digest.update(block, 0, n);
        stream.write(block, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    byte[] block = new byte[BLOCK];
    try (InputStream stream = Files.newInputStream(file)) {
      for (int n; (n = stream.read(block)) > 0; ) {
        digest.update(block, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  /** One timed phase and the memory it needed, sampled while it ran. */
  private static final class Phase {
    interface Body {
      Object run() throws Exception;
    }

    Object value = "";
    long nanos;
    long liveHeap;
    long usedHeap;
    long rssAnon;

    static Phase run(Body body) throws Exception {
      Phase phase = new Phase();
      List<MemoryPoolMXBean> pools = ManagementFactory.getMemoryPoolMXBeans().stream()
          .filter(p -> p.getType() == MemoryType.HEAP).toList();
      System.gc(); // start from what is live now, not from the previous phase's garbage
      Thread sampler = new Thread(() -> {
        while (!Thread.currentThread().isInterrupted()) {
          phase.sample(pools);
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "bigfile-memory");
      sampler.setDaemon(true);
      long start = System.nanoTime();
      sampler.start();
      try {
        phase.value = body.run();
      } finally {
        phase.nanos = System.nanoTime() - start;
        sampler.interrupt();
        sampler.join();
      }
      phase.sample(pools);
      return phase;
    }

    synchronized void sample(List<MemoryPoolMXBean> pools) {
      long live = 0;
      for (MemoryPoolMXBean pool : pools) {
        MemoryUsage afterGc = pool.getCollectionUsage();
        live += afterGc == null ? 0 : afterGc.getUsed();
      }
      liveHeap = Math.max(liveHeap, live);
      usedHeap = Math.max(usedHeap, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
      rssAnon = Math.max(rssAnon, status("RssAnon"));
    }
  }

  /** A {@code /proc/self/status} field in bytes (0 where there is none). */
  static long status(String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.substring(field.length() + 1).replace("kB", "").strip()) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }

  private static long mib(long bytes) {
    return bytes >> 20;
  }

  private static String secs(Phase phase) {
    return String.format("%.1f", phase.nanos / 1e9);
  }

  private static double rate(long bytes, Phase phase) {
    return (bytes / 1048576.0) / (phase.nanos / 1e9);
  }
}
