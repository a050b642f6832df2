package dev.capsulevm.bench;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordValidator;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The capsule model's hot operations: validating a signed record as a host does on append (signature,
 * sub-record root, parents, skip pointers), and generating and verifying a proof of the oldest of
 * 10,000 records from the head (a skip-pointer path of about 2 log2(n) headers).
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar CapsuleBenchmark}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CapsuleBenchmark {
  /** Sub-records in the validated record: the plain model and a Merkle-model record. */
  @Param({"1", "1024"})
  int subRecords;

  private RecordValidator validator;
  private InMemoryRecordSource source;
  private RecordWithBody next;
  private Hash head;
  private Hash oldest;
  private RecordProof deepProof;
  private ProofGenerator generator;

  @Setup
  public void setUp() {
    SigningKey creator = SigningKey.generate();
    SigningKey writer = SigningKey.generate();
    SignedMetadata metadata = SignedMetadata.sign(
        Metadata.create(creator.publicKey(), 0, SigningPolicy.EVERY_RECORD, 4096, 1 << 16,
            Map.of(writer.publicKey(), Permissions.ADD), "bench"),
        creator);
    validator = new RecordValidator(metadata);
    source = new InMemoryRecordSource();
    List<Hash> chain = new ArrayList<>();
    Hash parent = metadata.capsuleId();
    for (int i = 0; i < 10_000; i++) {
      Record record = Record.build(metadata.capsuleId(), List.of(parent), List.of(new byte[] {(byte) i}),
          i, writer, true, source);
      source.add(record.header());
      chain.add(record.hash());
      parent = record.hash();
    }
    oldest = chain.get(0);
    head = parent;
    List<byte[]> payloads = new ArrayList<>();
    for (int i = 0; i < subRecords; i++) {
      payloads.add(new byte[64]);
      payloads.get(i)[0] = (byte) i;
      payloads.get(i)[1] = (byte) (i >> 8);
    }
    next = new RecordWithBody(
        Record.build(metadata.capsuleId(), List.of(head), payloads, 10_000, writer, true, source), payloads);
    generator = new ProofGenerator(source);
    deepProof = generator.recordProof(head, oldest);
  }

  @Benchmark
  public RecordWithBody validateRecord() throws VerificationException {
    validator.validate(next, source, true);
    return next;
  }

  @Benchmark
  public RecordProof generateDeepProof() {
    return generator.recordProof(head, oldest);
  }

  @Benchmark
  public RecordHeader verifyDeepProof() throws VerificationException {
    return new ProofVerifier(null).verifyRecord(head, oldest, deepProof);
  }
}
