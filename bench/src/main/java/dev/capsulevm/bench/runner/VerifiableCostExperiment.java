package dev.capsulevm.bench.runner;

import dev.capsulevm.bench.TempDirectories;
import dev.capsulevm.host.store.LmdbCapsuleStorage;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.vm.ProgramData;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.InstructionOutput;
import dev.capsulevm.vm.exec.PendingCommit;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * The cost of being verifiable: the same payload bytes written and read back through raw lmdbjava (no
 * hashing, no signatures, no proofs), through the capsulevm VM in process on the LMDB store (records
 * signed and validated, every read with its proof checked by the renter's verifier), under each signing
 * policy, and through the gRPC host with the renter SDK verifying everything. Side by side in one run.
 *
 * <p>Writes: one commit per record of 64 sub-records of 1 KiB (one program per record for the VM and the
 * host). Reads: every sub-record once, 100 per read transaction or program. Every store syncs its commits.
 */
final class VerifiableCostExperiment implements Experiment {
  private static final int PER_RECORD = 64;
  private static final int PAYLOAD_BYTES = 1024;
  private static final int READS_PER_PROGRAM = 100;

  @Override
  public String name() {
    return "verifiable";
  }

  @Override
  public String title() {
    return "The cost of being verifiable: raw LMDB, the VM in process, the gRPC host";
  }

  @Override
  public int steps(boolean quick) {
    return 3;
  }

  @Override
  public Result run(boolean quick, Progress progress) throws Exception {
    int subRecords = quick ? 64 * 32 : 64 * 160;
    int runs = 3;
    Result result = new Result(title(),
        "Writing " + subRecords + " sub-records of 1 KiB in records of " + PER_RECORD + " (one commit or program"
            + " per record), then reading each back once, " + READS_PER_PROGRAM + " per read transaction or"
            + " program. Raw lmdbjava stores the payloads under (record, index) keys; the VM runs programs on"
            + " `LmdbCapsuleStorage` through the executor (records validated: signature, root, parents, skip"
            + " pointers) and the renter's `ProofVerifier` checks every read; the host path is the renter SDK"
            + " over gRPC on loopback. All stores sync every commit, on java.io.tmpdir. Median of " + runs
            + " runs (range) after a warm-up run, milliseconds; the ratio is to raw lmdbjava.");
    result.header("path", "write (ms)", "x raw", "read (ms)", "x raw");
    Result.Chart chart = result.chart("Time relative to raw lmdbjava", "path: 1 raw lmdbjava, 2 VM, 3 VM without"
        + " signature checks, 4 VM heartbeat, 5 gRPC host + renter", false, "x raw lmdbjava", true);
    List<byte[]> payloads = InProcessHost.payloads(subRecords, PAYLOAD_BYTES);
    Samples rawWrite = Samples.timeMillis(1, runs, () -> rawWrite(payloads));
    Samples rawRead = readRaw(payloads, runs);
    result.row("raw lmdbjava", rawWrite.format(0), "1.0x", rawRead.format(0), "1.0x");
    chart.point("write", 1, 1).point("read", 1, 1);
    progress.step(name() + ": raw lmdbjava");
    Samples[] signedVm = vm(payloads, SigningPolicy.EVERY_RECORD, true, runs);
    Samples[] unchecked = vm(payloads, SigningPolicy.EVERY_RECORD, false, runs);
    Samples[] heartbeat = vm(payloads, SigningPolicy.HEARTBEAT, true, runs);
    String[] labels = {"VM in process, every record signed and verified",
        "VM in process, signatures not verified (every other rule checked)",
        "VM in process, heartbeat (one signature per append of 16 records)"};
    Samples[][] vms = {signedVm, unchecked, heartbeat};
    for (int i = 0; i < vms.length; i++) {
      result.row(labels[i], vms[i][0].format(0), ratio(vms[i][0], rawWrite), vms[i][1].format(0),
          ratio(vms[i][1], rawRead));
      chart.point("write", 2 + i, vms[i][0].median() / rawWrite.median())
          .point("read", 2 + i, vms[i][1].median() / rawRead.median());
    }
    progress.step(name() + ": VM in process");
    Samples[] grpc = grpc(payloads, runs);
    result.row("gRPC host + renter SDK", grpc[0].format(0), ratio(grpc[0], rawWrite), grpc[1].format(0),
        ratio(grpc[1], rawRead));
    chart.point("write", 5, grpc[0].median() / rawWrite.median()).point("read", 5, grpc[1].median() / rawRead.median());
    progress.step(name() + ": gRPC");
    result.finding(String.format("Verified reads through the gRPC host cost %s the raw LMDB reads of the same"
        + " bytes, and signed, validated writes %s the raw puts.", ratio(grpc[1], rawRead), ratio(grpc[0], rawWrite)));
    result.finding(String.format("In process, the VM reads and verifies %,.0f sub-records per second (%s raw LMDB);"
        + " over gRPC, one client reaches %,.0f per second: the wire, the per-program payment (a signed"
        + " withdrawal, its settlement journaled for a read) and the signed receipt account for the difference.",
        payloads.size() * 1000 / signedVm[1].median(), ratio(signedVm[1], rawRead),
        payloads.size() * 1000 / grpc[1].median()));
    return result;
  }

  private static String ratio(Samples a, Samples raw) {
    return String.format("%.1fx", a.median() / raw.median());
  }

  /** Writes every payload with raw lmdbjava into a new environment in {@code dir}, one transaction per record. */
  private static Env<ByteBuffer> rawLmdb(Path dir, List<byte[]> payloads) {
    Env<ByteBuffer> env = Env.create().setMapSize(4L << 30).setMaxDbs(1).open(dir.toFile());
    Dbi<ByteBuffer> db = env.openDbi("raw", DbiFlags.MDB_CREATE);
    ByteBuffer key = ByteBuffer.allocateDirect(8);
    ByteBuffer value = ByteBuffer.allocateDirect(PAYLOAD_BYTES);
    for (int first = 0; first < payloads.size(); first += PER_RECORD) {
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        for (int i = first; i < Math.min(payloads.size(), first + PER_RECORD); i++) {
          key.clear().putLong(i).flip();
          value.clear().put(payloads.get(i)).flip();
          db.put(txn, key, value);
        }
        txn.commit();
      }
    }
    return env;
  }

  private static void rawWrite(List<byte[]> payloads) throws Exception {
    Path dir = Files.createTempDirectory("capsulevm-raw");
    try {
      rawLmdb(dir, payloads).close();
    } finally {
      TempDirectories.delete(dir);
    }
  }

  private static Samples readRaw(List<byte[]> payloads, int runs) throws Exception {
    Path dir = Files.createTempDirectory("capsulevm-raw");
    Env<ByteBuffer> env = rawLmdb(dir, payloads);
    Dbi<ByteBuffer> db = env.openDbi("raw");
    ByteBuffer key = ByteBuffer.allocateDirect(8);
    try {
      return Samples.timeMillis(1, runs, () -> {
        for (int first = 0; first < payloads.size(); first += READS_PER_PROGRAM) {
          try (Txn<ByteBuffer> txn = env.txnRead()) {
            for (int i = first; i < Math.min(payloads.size(), first + READS_PER_PROGRAM); i++) {
              key.clear().putLong(i).flip();
              ByteBuffer found = db.get(txn, key);
              byte[] copy = new byte[found.remaining()];
              found.get(copy);
            }
          }
        }
      });
    } finally {
      env.close();
      TempDirectories.delete(dir);
    }
  }

  /** Writes through the executor on a fresh LMDB store, then reads every sub-record back verified. */
  private static Samples[] vm(List<byte[]> payloads, SigningPolicy policy, boolean verifySignatures, int runs)
      throws Exception {
    double[] writes = new double[runs];
    double[] reads = new double[runs];
    for (int r = -1; r < runs; r++) { // run -1 warms the JIT up and is not recorded
      Path dir = Files.createTempDirectory("capsulevm-vm");
      ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
      try (LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir)) {
        PriceTable table = Workload.table();
        Executor executor = verifySignatures
            ? new Executor(storage, Clock.systemUTC(), Duration.ofMinutes(1), Duration.ofSeconds(30), WireSizes.OUTPUT_ENVELOPE_BYTES, Workload.HOST,
                scheduler)
            : Executor.withoutSignatureVerification(storage, Clock.systemUTC(), Duration.ofMinutes(1),
                Duration.ofSeconds(30), WireSizes.OUTPUT_ENVELOPE_BYTES, Workload.HOST, scheduler);
        SignedMetadata metadata = Workload.metadata(policy, "verifiable");
        Hash id = metadata.capsuleId();
        commit(executor, table, null, new Instruction.CreateCapsule(new DataRef(0, metadata.encoded().length)),
            metadata.encoded());
        // The writer builds and signs outside the timing, as a renter does before sending.
        List<byte[]> appends = new ArrayList<>();
        InMemoryRecordSource built = new InMemoryRecordSource();
        Hash parent = id;
        List<RecordWithBody> batch = new ArrayList<>();
        int recordsPerAppend = policy == SigningPolicy.EVERY_RECORD ? 1 : 16;
        List<Hash> records = new ArrayList<>();
        for (int first = 0; first < payloads.size(); first += PER_RECORD) {
          List<byte[]> body = payloads.subList(first, Math.min(payloads.size(), first + PER_RECORD));
          boolean last = first + PER_RECORD >= payloads.size() || (records.size() + 1) % recordsPerAppend == 0;
          Record record = Record.build(id, List.of(parent), body, Workload.START.toEpochMilli() + first,
              Workload.WRITER, policy == SigningPolicy.EVERY_RECORD || last, built);
          built.add(record.header());
          batch.add(new RecordWithBody(record, body));
          records.add(record.hash());
          parent = record.hash();
          if (last || batch.size() == recordsPerAppend) {
            appends.add(AppendEncoding.encode(batch));
            batch.clear();
          }
        }
        long start = System.nanoTime();
        for (byte[] append : appends) {
          commit(executor, table, id, new Instruction.AppendRecord(new DataRef(0, append.length)), append);
        }
        double writeMillis = (System.nanoTime() - start) / 1e6;
        RecordHeader head = Objects.requireNonNull(built.headerOrNull(parent));
        start = System.nanoTime();
        ProofVerifier verifier = new ProofVerifier(null);
        for (int first = 0; first < payloads.size(); first += READS_PER_PROGRAM) {
          ByteArrayOutputStream data = new ByteArrayOutputStream();
          data.writeBytes(head.hash().toByteArray());
          List<Instruction> instructions = new ArrayList<>();
          for (int i = first; i < Math.min(payloads.size(), first + READS_PER_PROGRAM); i++) {
            instructions.add(new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1 + i / PER_RECORD), i % PER_RECORD,
                new DataRef(0, Hash.LENGTH)));
          }
          List<InstructionOutput> outputs = new ArrayList<>();
          Program program = new Program(id, instructions, data.size());
          ProgramData programData = new ProgramData(data.size(), data.size());
          programData.append(data.toByteArray());
          executor.run(program, programData, Workload.meter(table, id, 64), outputs::add);
          for (int i = 0; i < outputs.size(); i++) {
            int index = first + i;
            Output.SubRecord out = (Output.SubRecord) outputs.get(i).output();
            verifier.verifySubRecord(head.hash(), records.get(index / PER_RECORD), index % PER_RECORD, out.payload(),
                out.proof());
          }
        }
        if (r >= 0) {
          writes[r] = writeMillis;
          reads[r] = (System.nanoTime() - start) / 1e6;
        }
      } finally {
        scheduler.shutdownNow();
        TempDirectories.delete(dir);
      }
    }
    return new Samples[] {new Samples(writes), new Samples(reads)};
  }

  private static void commit(Executor executor, PriceTable table, @Nullable Hash capsule, Instruction instruction,
      byte[] data)
      throws Exception {
    ProgramData programData = new ProgramData(data.length, data.length);
    programData.append(data);
    ((PendingCommit) executor.run(new Program(capsule, List.of(instruction), data.length), programData,
        Workload.meter(table, capsule, 64), output -> { })).confirm();
  }

  /** Writes and reads through the gRPC host with the renter SDK verifying every answer. */
  private static Samples[] grpc(List<byte[]> payloads, int runs) throws Exception {
    double[] writes = new double[runs];
    double[] reads = new double[runs];
    for (int r = -1; r < runs; r++) { // run -1 warms the JIT up and is not recorded
      try (InProcessHost host = new InProcessHost(1)) {
        HostClient client = host.clients.get(0);
        CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
            SigningPolicy.EVERY_RECORD, 4096, 2 * PAYLOAD_BYTES, "verifiable");
        long start = System.nanoTime();
        for (int first = 0; first < payloads.size(); first += PER_RECORD) {
          writer.append(client, payloads.subList(first, Math.min(payloads.size(), first + PER_RECORD)));
        }
        double writeMillis = (System.nanoTime() - start) / 1e6;
        RecordHeader head = Objects.requireNonNull(writer.highestHead(), "the payloads are appended");
        start = System.nanoTime();
        for (int first = 0; first < payloads.size(); first += READS_PER_PROGRAM) {
          ProgramBuilder b = writer.newProgram(client);
          for (int i = first; i < Math.min(payloads.size(), first + READS_PER_PROGRAM); i++) {
            b.readSubRecordAtHeight(1 + i / PER_RECORD, i % PER_RECORD, head);
          }
          client.run(b.build());
        }
        if (r >= 0) {
          writes[r] = writeMillis;
          reads[r] = (System.nanoTime() - start) / 1e6;
        }
      }
    }
    return new Samples[] {new Samples(writes), new Samples(reads)};
  }
}
