package dev.capsulevm.bench;

import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * Executor throughput for append programs: one AppendRecord instruction holding one signed record of
 * {@code subRecords} 1 KB sub-records on the head, run through {@code Executor.run} (parse, signature,
 * sub-record root, parents and skip pointers validated, metered) and committed with
 * {@code PendingCommit.confirm()} (LMDB: a durable, synced commit in a temporary directory under
 * java.io.tmpdir). The renter's work (building and signing the record) happens in a per-invocation
 * setup, outside the measurement. One op is one whole confirmed program.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar ExecutorAppendBenchmark -f 1 -wi 2 -i 5}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Thread)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"})
public class ExecutorAppendBenchmark {
  @Param({"memory", "lmdb"})
  String store;

  @Param({"1", "64"})
  int subRecords;

  private ExecFixture fixture;
  private ExecFixture.Built next;

  @Setup
  public void setUp() throws Exception {
    fixture = new ExecFixture(store, null);
    fixture.preload(16, subRecords);
  }

  @Setup(Level.Invocation)
  public void nextRecord() {
    next = fixture.appendProgram(fixture.nextRecord(subRecords));
  }

  @TearDown
  public void tearDown() {
    fixture.close();
  }

  @Benchmark
  public Object appendProgram(Blackhole bh) throws Exception {
    return fixture.runAndConfirm(next, bh::consume);
  }
}
