package dev.capsulevm.bench;

import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Program;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.vm.ProgramData;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.InstructionOutput;
import dev.capsulevm.vm.exec.Outcome;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.CapsuleStorage;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * What the executor benchmarks share: a store (in memory or LMDB in a temporary directory), an executor
 * with a real price table and host key, one capsule whose writer signs every record, a record builder
 * that chains on the head, and program builders. Not thread-safe.
 */
final class ExecFixture implements AutoCloseable {
  static final int PAYLOAD_BYTES = 1024;
  /** The program id the fixture's meters name: receipts are not looked at here. */
  static final Hash PROGRAM_ID = Sha256.untagged("bench-exec-fixture".getBytes(StandardCharsets.UTF_8));

  final SigningKey host = SigningKey.generate();
  final SigningKey creator = SigningKey.generate();
  final SigningKey writer = SigningKey.generate();
  final PriceTable table;
  final SignedMetadata metadata;
  final Hash capsuleId;
  final CapsuleStorage storage;
  final Executor executor;
  /** The renter's copy of every header, for building records (skip pointers need older headers). */
  final InMemoryRecordSource headers = new InMemoryRecordSource();
  final List<Hash> chain = new ArrayList<>();
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "bench-commit-timer");
    t.setDaemon(true);
    return t;
  });
  private final @Nullable Path directoryOrNull;
  private final Random random = new Random(42);
  private long timestamp = 1;

  /**
   * @param store "memory" or "lmdb"
   * @param parentDirOrNull where LMDB's temporary directory goes (null: the default temporary directory)
   */
  ExecFixture(String store, @Nullable Path parentDirOrNull) throws Exception {
    Instant now = Instant.ofEpochSecond(Instant.now().getEpochSecond());
    Map<InstructionKind, InstructionPrice> perKind = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      perKind.put(kind, InstructionPrice.of(100, 1));
    }
    Prices prices = new Prices(Amount.of(1000), Amount.of(1), perKind, Amount.of(1), Amount.of(1),
        Amount.of(1), Amount.of(2));
    Limits limits = new Limits(1 << 24, 256, 1 << 24, 1024, 16, Amount.ofCap(1_000_000_000));
    table = new PriceTable(host.publicKey(), now.minusSeconds(3600), now.plusSeconds(86_400), prices, limits);
    metadata = SignedMetadata.sign(
        Metadata.create(creator.publicKey(), 0, SigningPolicy.EVERY_RECORD, 1024, 1 << 16,
            Map.of(writer.publicKey(), Permissions.ADD), "bench"),
        creator);
    capsuleId = metadata.capsuleId();
    if (store.equals("memory")) {
      storage = new InMemoryCapsuleStorage();
      directoryOrNull = null;
    } else if (store.equals("lmdb")) {
      directoryOrNull = parentDirOrNull == null
          ? Files.createTempDirectory("capsulevm-bench")
          : Files.createTempDirectory(parentDirOrNull, "capsulevm-bench");
      storage = LmdbCapsuleStorage.open(directoryOrNull);
    } else {
      throw new IllegalArgumentException("store is memory or lmdb, got " + store);
    }
    executor = new Executor(storage, Clock.systemUTC(), Duration.ofMinutes(10), Duration.ofSeconds(10), WireSizes.OUTPUT_ENVELOPE_BYTES, host,
        scheduler);
    Batch batch = storage.newBatch();
    batch.createCapsule(metadata);
    batch.commit();
  }

  /** {@code count} payloads of {@link #PAYLOAD_BYTES} random bytes. */
  List<byte[]> payloads(int count) {
    List<byte[]> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      byte[] payload = new byte[PAYLOAD_BYTES];
      random.nextBytes(payload);
      out.add(payload);
    }
    return out;
  }

  /** The next signed record on the head of the chain (not yet stored); remembers its header. */
  RecordWithBody nextRecord(int subRecords) {
    Hash parent = chain.isEmpty() ? capsuleId : chain.get(chain.size() - 1);
    List<byte[]> payloads = payloads(subRecords);
    Record record = Record.build(capsuleId, List.of(parent), payloads, timestamp++, writer, true, headers);
    headers.add(record.header());
    chain.add(record.hash());
    return new RecordWithBody(record, payloads);
  }

  /** Stores {@code count} records of {@code subRecords} payloads directly through batches of 64. */
  void preload(int count, int subRecords) throws Exception {
    Batch batch = storage.newBatch();
    for (int i = 0; i < count; i++) {
      batch.putRecord(nextRecord(subRecords));
      if (i % 64 == 63 || i == count - 1) {
        batch.commit();
        batch = storage.newBatch();
      }
    }
  }

  /** A meter for a program on the fixture's capsule; refunds go nowhere. */
  Meter meter(long programBytes) throws Exception {
    return Meter.open(table, PROGRAM_ID, capsuleId, Amount.ofCap(1_000_000), programBytes, 10,
        (amount, programId) -> { }, Clock.systemUTC());
  }

  /** A program and its data bytes, reused across runs (each run gets fresh {@link ProgramData}). */
  @SuppressWarnings("ArrayRecordComponent") // never compared
  record Built(Program program, byte[] data) {
    ProgramData freshData() throws Exception {
      ProgramData out = new ProgramData(data.length, Math.max(1, data.length));
      if (data.length > 0) {
        out.append(data);
      }
      return out;
    }
  }

  /** A program of one AppendRecord instruction appending {@code record}. */
  Built appendProgram(RecordWithBody record) {
    byte[] input = AppendEncoding.encode(List.of(record));
    Program program = new Program(capsuleId, List.of(new Instruction.AppendRecord(new DataRef(0, input.length))),
        input.length);
    return new Built(program, input);
  }

  /**
   * A read-only program of {@code count} ReadSubRecord instructions, each with a proof to the head:
   * instruction {@code j} reads sub-record {@code j mod subRecords} of the record at height
   * {@code 1 + (j * 37) mod chain length}, named by hash.
   */
  Built readProgram(int count, int subRecords) {
    ByteArrayOutputStream data = new ByteArrayOutputStream();
    Hash head = chain.get(chain.size() - 1);
    DataRef anchor = new DataRef(0, Hash.LENGTH);
    data.writeBytes(head.toByteArray());
    List<Instruction> instructions = new ArrayList<>(count);
    for (int j = 0; j < count; j++) {
      Hash target = chain.get((j * 37) % chain.size());
      DataRef ref = new DataRef(data.size(), Hash.LENGTH);
      data.writeBytes(target.toByteArray());
      instructions.add(new Instruction.ReadSubRecord(
          new dev.capsulevm.program.RecordSelector.ByHash(ref), j % subRecords, anchor));
    }
    byte[] bytes = data.toByteArray();
    return new Built(new Program(capsuleId, instructions, bytes.length), bytes);
  }

  /** Runs a read-only program, handing every output to {@code consumer}. */
  Outcome runRead(Built built, Consumer<InstructionOutput> consumer) throws Exception {
    return executor.run(built.program(), built.freshData(), meter(built.data().length), consumer);
  }

  /** Runs a read-write program and confirms its commit, as a renter that verified every output would. */
  Object runAndConfirm(Built built, Consumer<InstructionOutput> consumer) throws Exception {
    Outcome outcome = executor.run(built.program(), built.freshData(), meter(built.data().length), consumer);
    try {
      return ((PendingCommit) outcome).confirm();
    } catch (ProgramStoppedException e) {
      throw new IllegalStateException("the commit failed", e);
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    if (storage instanceof LmdbCapsuleStorage lmdb) {
      lmdb.close();
    }
    if (directoryOrNull != null) {
      TempDirectories.delete(directoryOrNull);
    }
  }
}
