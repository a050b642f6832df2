package dev.capsulevm.bench;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.vm.exec.InstructionOutput;
import dev.capsulevm.vm.exec.Output;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
 *       the record at height 1, 64 sub-records of 1 KB, proof to the head of a 128-record chain) through
 *       {@code Executor.run} on {@code LmdbCapsuleStorage}, then the renter's check of the output with
 *       {@code ProofVerifier.verifySubRecord} (header path and {@code MerkleVerifier} inclusion) against
 *       the head. Against {@code rawGet}: one lmdbjava read transaction and get of the same 1 KB payload,
 *       copied out. {@code rawGetRecord} reads what the host must read for it with plain gets (the
 *       stored header and all 64 payloads of the record), for context.
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
 * <p>Run: {@code java -jar bench/target/benchmarks.jar LmdbOverheadBenchmark -f 1 -wi 2 -i 3}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"})
public class LmdbOverheadBenchmark {
  static final int RECORDS = 128;
  static final int SUB_RECORDS = 64;

  @Param({"disk", "shm"})
  String fs;

  private ExecFixture fixture;
  private ExecFixture.Built readProgram;
  private Hash head;
  private Hash target;
  private Path rawDir;
  private Env<ByteBuffer> rawEnv;
  private Dbi<ByteBuffer> raw;
  private final ByteBuffer rawKey = ByteBuffer.allocateDirect(Hash.LENGTH + Long.BYTES);
  private final ByteBuffer rawValue = ByteBuffer.allocateDirect(64 * 1024);
  private long nextRawKey;
  private ByteBuffer payloadKey;
  private RecordWithBody next;
  private ExecFixture.Built nextAppend;
  private final Output[] last = new Output[1];

  @Setup
  public void setUp() throws Exception {
    Path parent = fs.equals("shm") ? Path.of("/dev/shm") : null;
    fixture = new ExecFixture("lmdb", parent);
    fixture.preload(RECORDS, SUB_RECORDS);
    head = fixture.chain.get(fixture.chain.size() - 1);
    target = fixture.chain.get(0);
    readProgram = fixture.readProgram(1, SUB_RECORDS);

    rawDir = parent == null ? Files.createTempDirectory("capsulevm-raw")
        : Files.createTempDirectory(parent, "capsulevm-raw");
    rawEnv = Env.create().setMapSize(8L << 30).setMaxDbs(1).open(rawDir.toFile());
    raw = rawEnv.openDbi("raw", DbiFlags.MDB_CREATE);
    // The raw side holds the same record: its stored header value and its 64 payloads.
    RecordWithBody stored = rebuildTarget();
    try (Txn<ByteBuffer> txn = rawEnv.txnWrite()) {
      putAll(txn, stored);
      txn.commit();
    }
    payloadKey = ByteBuffer.allocateDirect(Hash.LENGTH + Long.BYTES);
    payloadKey.put(keyBytes(0, 1)).flip();
  }

  /** The target record's payloads as stored (read back through a snapshot). */
  private RecordWithBody rebuildTarget() throws Exception {
    try (var snapshot = fixture.storage.openSnapshot(fixture.capsuleId)) {
      return new RecordWithBody(snapshot.recordOrNull(target), snapshot.subRecordsOrNull(target));
    }
  }

  private static byte[] keyBytes(long record, long index) {
    ByteBuffer key = ByteBuffer.allocate(Hash.LENGTH + Long.BYTES);
    key.putLong(0, record).putLong(Hash.LENGTH, index);
    return key.array();
  }

  /** Puts the record's header value (key index 0) and payloads (1..n) under the next raw record key. */
  private void putAll(Txn<ByteBuffer> txn, RecordWithBody record) {
    long id = nextRawKey++;
    byte[] header = record.record().header().encoded();
    put(txn, id, 0, header);
    List<byte[]> payloads = record.payloads();
    for (int i = 0; i < payloads.size(); i++) {
      put(txn, id, i + 1, payloads.get(i));
    }
  }

  private void put(Txn<ByteBuffer> txn, long record, long index, byte[] value) {
    rawKey.clear();
    rawKey.putLong(0, record).putLong(Hash.LENGTH, index);
    rawValue.clear();
    rawValue.put(value).flip();
    raw.put(txn, rawKey, rawValue);
  }

  @Setup(Level.Invocation)
  public void nextRecord() {
    next = fixture.nextRecord(SUB_RECORDS);
    nextAppend = fixture.appendProgram(next);
  }

  @TearDown
  public void tearDown() {
    fixture.close();
    rawEnv.close();
    ExecFixture.deleteTree(rawDir);
  }

  @Benchmark
  public RecordHeader verifiedRead() throws Exception {
    fixture.runRead(readProgram, (InstructionOutput out) -> last[0] = out.output());
    Output.SubRecord read = (Output.SubRecord) last[0];
    try {
      return new ProofVerifier(null).verifySubRecord(head, target, 0, read.payload(), read.proof());
    } catch (VerificationException e) {
      throw new IllegalStateException(e);
    }
  }

  @Benchmark
  public byte[] rawGet() {
    try (Txn<ByteBuffer> txn = rawEnv.txnRead()) {
      ByteBuffer value = raw.get(txn, payloadKey);
      byte[] out = new byte[value.remaining()];
      value.get(out);
      return out;
    }
  }

  @Benchmark
  public long rawGetRecord() {
    long total = 0;
    try (Txn<ByteBuffer> txn = rawEnv.txnRead()) {
      for (int i = 0; i <= SUB_RECORDS; i++) {
        rawKey.clear();
        rawKey.putLong(0, 0).putLong(Hash.LENGTH, i);
        ByteBuffer value = raw.get(txn, rawKey);
        byte[] out = new byte[value.remaining()];
        value.get(out);
        total += out.length;
      }
    }
    return total;
  }

  @Benchmark
  public Object append64() throws Exception {
    return fixture.runAndConfirm(nextAppend, out -> last[0] = out.output());
  }

  @Benchmark
  public long rawPut64() {
    try (Txn<ByteBuffer> txn = rawEnv.txnWrite()) {
      putAll(txn, next);
      txn.commit();
    }
    return nextRawKey;
  }
}
