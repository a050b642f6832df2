package dev.capsulevm.bench;

import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.vm.exec.InstructionOutput;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What capsulevm costs on top of LMDB, side by side in one run (one fork per method, same setup):
 *
 * <ul>
 *   <li>{@code verifiedRead}: a one-instruction read-only program (ReadSubRecord by hash, sub-record 0 of
 *       the record at height 1 of a 128-record chain, {@code readSubRecords} sub-records of 1 KB per
 *       record, proof to the head) through {@code Executor.run} on {@code LmdbCapsuleStorage} (metered,
 *       receipt signed by the host key), then the renter's check of the output with
 *       {@code ProofVerifier.verifySubRecord} (header path and {@code MerkleVerifier} inclusion) against
 *       the head. {@code hostRead} is the executor part alone. Against {@code rawGet}: one lmdbjava read
 *       transaction and get of the same 1 KB payload, copied out. {@code rawGetRecord} reads with plain
 *       gets in one transaction the stored header and every payload of the record, what a store without
 *       kept Merkle trees would read to prove it, for context.
 *   <li>{@code append64}: a program appending one signed record of 64 sub-records of 1 KB through the
 *       executor, confirmed (one write transaction, committed). Against {@code rawPut64}: lmdbjava puts of
 *       the same bytes (the stored header value and the 64 payloads under fresh keys) in one write
 *       transaction, committed.
 * </ul>
 *
 * Both environments are durable (no MDB_NOSYNC: every commit fsyncs). {@code fs=disk} puts them under
 * java.io.tmpdir (a disk), {@code fs=shm} under /dev/shm (tmpfs, where fsync costs next to nothing, so the
 * CPU overhead shows).
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar LmdbOverheadBenchmark -f 1 -wi 2 -i 5}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"})
public class LmdbOverheadBenchmark {
  static final int RECORDS = 128;
  static final int SUB_RECORDS = 64;

  /** A capsulevm store and a raw lmdbjava environment side by side, both durable. */
  @State(Scope.Thread)
  @SuppressWarnings("NullAway.Init") // open() sets the fields; every subclass's @Setup calls it first
  public abstract static class Stores {
    @Param({"disk", "shm"})
    String fs;

    ExecFixture fixture;
    Path rawDir;
    Env<ByteBuffer> rawEnv;
    Dbi<ByteBuffer> raw;
    final ByteBuffer rawKey = ByteBuffer.allocateDirect(Hash.LENGTH + Long.BYTES);
    final ByteBuffer rawValue = ByteBuffer.allocateDirect(64 * 1024);
    long nextRawKey;
    final Output[] last = new Output[1];

    void open() throws Exception {
      Path parent = fs.equals("shm") ? Path.of("/dev/shm") : null;
      fixture = new ExecFixture("lmdb", parent);
      rawDir = parent == null ? Files.createTempDirectory("capsulevm-raw")
          : Files.createTempDirectory(parent, "capsulevm-raw");
      rawEnv = Env.create().setMapSize(8L << 30).setMaxDbs(1).open(rawDir.toFile());
      raw = rawEnv.openDbi("raw", DbiFlags.MDB_CREATE);
    }

    /** Puts the record's header value (key index 0) and payloads (1..n) under the next raw record key. */
    void putAll(Txn<ByteBuffer> txn, RecordWithBody record) {
      long id = nextRawKey++;
      put(txn, id, 0, record.record().header().encoded());
      List<byte[]> payloads = record.payloads();
      for (int i = 0; i < payloads.size(); i++) {
        put(txn, id, i + 1, payloads.get(i));
      }
    }

    void put(Txn<ByteBuffer> txn, long record, long index, byte[] value) {
      rawKey.clear();
      rawKey.putLong(0, record).putLong(Hash.LENGTH, index);
      rawValue.clear();
      rawValue.put(value).flip();
      raw.put(txn, rawKey, rawValue);
    }

    @TearDown
    public void tearDown() {
      fixture.close();
      rawEnv.close();
      TempDirectories.delete(rawDir);
    }
  }

  /** A 128-record chain of 1 or 64 sub-records each; the raw side holds the record read. */
  @State(Scope.Thread)
  public static class Reads extends Stores {
    /** Sub-records per record of the chain read from. */
    @Param({"64", "1"})
    int readSubRecords;

    ExecFixture.Built readProgram;
    Hash head;
    Hash target;
    ByteBuffer payloadKey;

    @Setup
    public void setUp() throws Exception {
      open();
      fixture.preload(RECORDS, readSubRecords);
      head = fixture.chain.get(fixture.chain.size() - 1);
      target = fixture.chain.get(0);
      readProgram = fixture.readProgram(1, readSubRecords);
      RecordWithBody stored;
      try (var snapshot = fixture.storage.openSnapshot(fixture.capsuleId)) {
        stored = new RecordWithBody(Objects.requireNonNull(snapshot.recordOrNull(target)),
            Objects.requireNonNull(snapshot.subRecordsOrNull(target)));
      }
      try (Txn<ByteBuffer> txn = rawEnv.txnWrite()) {
        putAll(txn, stored);
        txn.commit();
      }
      payloadKey = ByteBuffer.allocateDirect(Hash.LENGTH + Long.BYTES);
      payloadKey.putLong(0, 0).putLong(Hash.LENGTH, 1);
    }
  }

  /** The next record of 64 sub-records, built and signed (the renter's work) outside the measurement. */
  @State(Scope.Thread)
  public static class Appends extends Stores {
    RecordWithBody next;
    ExecFixture.Built nextAppend;

    @Setup
    public void setUp() throws Exception {
      open();
      fixture.preload(16, SUB_RECORDS);
    }

    @Setup(Level.Invocation)
    public void nextRecord() {
      next = fixture.nextRecord(SUB_RECORDS);
      nextAppend = fixture.appendProgram(next);
    }
  }

  @Benchmark
  public RecordHeader verifiedRead(Reads s) throws Exception {
    s.fixture.runRead(s.readProgram, (InstructionOutput out) -> s.last[0] = out.output());
    Output.SubRecord read = (Output.SubRecord) s.last[0];
    try {
      return new ProofVerifier(null).verifySubRecord(s.head, s.target, 0, read.payload(), read.proof());
    } catch (VerificationException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The host's part of {@link #verifiedRead} alone: the program through the executor, no verification. */
  @Benchmark
  public Object hostRead(Reads s) throws Exception {
    s.fixture.runRead(s.readProgram, (InstructionOutput out) -> s.last[0] = out.output());
    return s.last[0];
  }

  @Benchmark
  public byte[] rawGet(Reads s) {
    try (Txn<ByteBuffer> txn = s.rawEnv.txnRead()) {
      ByteBuffer value = s.raw.get(txn, s.payloadKey);
      byte[] out = new byte[value.remaining()];
      value.get(out);
      return out;
    }
  }

  @Benchmark
  public long rawGetRecord(Reads s) {
    long total = 0;
    try (Txn<ByteBuffer> txn = s.rawEnv.txnRead()) {
      for (int i = 0; i <= s.readSubRecords; i++) {
        s.rawKey.clear();
        s.rawKey.putLong(0, 0).putLong(Hash.LENGTH, i);
        ByteBuffer value = s.raw.get(txn, s.rawKey);
        byte[] out = new byte[value.remaining()];
        value.get(out);
        total += out.length;
      }
    }
    return total;
  }

  @Benchmark
  public Object append64(Appends s) throws Exception {
    return s.fixture.runAndConfirm(s.nextAppend, out -> s.last[0] = out.output());
  }

  @Benchmark
  public long rawPut64(Appends s) {
    try (Txn<ByteBuffer> txn = s.rawEnv.txnWrite()) {
      s.putAll(txn, s.next);
      txn.commit();
    }
    return s.nextRawKey;
  }
}
