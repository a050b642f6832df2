package dev.capsulevm.bench;

import dev.capsulevm.vm.exec.Outcome;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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
 * Executor throughput for read-only programs: {@code instructions} ReadSubRecord instructions, each
 * reading one 1 KB sub-record of a record (16 sub-records) named by hash, with its proof to the head of
 * a 128-record chain, through {@code Executor.run} with a real price table, meter and host-signed receipt.
 * In memory and on LMDB (a temporary directory). One op is one whole program.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar ExecutorReadBenchmark -f 1 -wi 2 -i 5}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Thread)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"})
public class ExecutorReadBenchmark {
  static final int RECORDS = 128;
  static final int SUB_RECORDS = 16;

  @Param({"memory", "lmdb"})
  String store;

  @Param({"1", "10", "100"})
  int instructions;

  private ExecFixture fixture;
  private ExecFixture.Built program;

  @Setup
  public void setUp() throws Exception {
    fixture = new ExecFixture(store, null);
    fixture.preload(RECORDS, SUB_RECORDS);
    program = fixture.readProgram(instructions, SUB_RECORDS);
  }

  @TearDown
  public void tearDown() {
    fixture.close();
  }

  @Benchmark
  public Outcome readProgram(Blackhole bh) throws Exception {
    return fixture.runRead(program, bh::consume);
  }
}
