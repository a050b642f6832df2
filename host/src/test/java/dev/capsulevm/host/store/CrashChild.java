package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The process {@link CrashSafetyTest} kills: it commits groups of records to one capsule in a loop, each
 * group with a ledger credit, until it is killed. Group {@code g} holds {@code 1 + g % 3} chained records
 * whose first sub-record reads {@code "g/j/size/path"}. Even groups run through the {@link Executor} with
 * refund account {@link #groupAccount}(g), so the refund is credited in the commit; odd groups are one
 * batch with a credit of {@link #batchCredit}(g) to {@link #BATCH_ACCOUNT}. Every run continues after the
 * group of the capsule's head. It reports on standard output as it goes: {@link #COMMITTING} g just before
 * group g's commit, {@link #COMMITTED} g once it returned. Argument: the store directory.
 */
public final class CrashChild {
  static final CapsuleFixture CAPSULE = new CapsuleFixture("crash-safety");
  static final PublicKey BATCH_ACCOUNT = ExecFixture.key(0x71).publicKey();
  /** Where a refund that does not go through a commit would go (never, unless a commit fails). */
  static final PublicKey FAILURE_ACCOUNT = ExecFixture.key(0x72).publicKey();
  static final long MAP_SIZE = 256L << 20;
  static final String COMMITTING = "committing ";
  static final String COMMITTED = "committed ";

  private CrashChild() {}

  static PublicKey groupAccount(long group) {
    byte[] seed = new byte[32];
    ByteBuffer.wrap(seed).putLong(group).putInt(0x6772);
    return SigningKey.fromSeed(seed).publicKey();
  }

  static long batchCredit(long group) {
    return 1000 + group;
  }

  static int groupSize(long group) {
    return 1 + (int) (group % 3);
  }

  static boolean throughExecutor(long group) {
    return group % 2 == 0;
  }

  /** The label of record {@code j} of group {@code g}. */
  static String label(long group, int j) {
    return group + "/" + j + "/" + groupSize(group) + "/" + (throughExecutor(group) ? "E" : "B");
  }

  /** The group of a record from its first sub-record. */
  static long groupOf(byte[] firstSubRecord) {
    return Long.parseLong(new String(firstSubRecord, StandardCharsets.UTF_8).split("/")[0]);
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir, MAP_SIZE, 64);
    LmdbLedger ledger = storage.ledger(Clock.systemUTC(), Amount.ofCap(1_000_000), Duration.ofHours(1));
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    Executor executor = new Executor(storage, Clock.systemUTC(), Duration.ofHours(1), Duration.ofSeconds(10),
        WireSizes.OUTPUT_ENVELOPE_BYTES, ExecFixture.HOST, scheduler);
    if (!storage.hasCapsule(CAPSULE.id())) {
      try (Batch batch = storage.newBatch()) {
        batch.createCapsule(CAPSULE.metadata);
        batch.commit();
      }
    }
    while (true) {
      long group;
      Hash parent;
      Map<Hash, RecordHeader> staged = new HashMap<>();
      List<RecordWithBody> records = new ArrayList<>();
      try (Snapshot snapshot = storage.openSnapshot(CAPSULE.id())) {
        List<Hash> heads = snapshot.heads();
        if (heads.size() > 1) {
          throw new IllegalStateException("the capsule forked: " + heads);
        }
        parent = heads.isEmpty() ? CAPSULE.id() : heads.get(0);
        group = heads.isEmpty() ? 0 : groupOf(snapshot.subRecordsOrNull(parent).get(0)) + 1;
        RecordSource source = hash -> staged.containsKey(hash) ? staged.get(hash) : snapshot.headerOrNull(hash);
        for (int j = 0; j < groupSize(group); j++) {
          byte[] filler = new byte[64 + (int) (group % 200)];
          Arrays.fill(filler, (byte) j);
          RecordWithBody record = CAPSULE.recordOver(source, List.of(parent),
              List.of(label(group, j).getBytes(StandardCharsets.UTF_8), filler));
          staged.put(record.hash(), record.record().header());
          records.add(record);
          parent = record.hash();
        }
      }
      if (throughExecutor(group)) {
        ExecFixture.Builder append = new ExecFixture.Builder(CAPSULE.id());
        append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(records))));
        Meter meter = append.meter(Amount.ofCap(10).units(),
            (amount, programId) -> ledger.refund(FAILURE_ACCOUNT, amount, programId));
        PendingCommit pending =
            (PendingCommit) executor.run(append.program(), append.data(), meter, groupAccount(group), o -> { });
        report(COMMITTING + group);
        pending.confirm();
      } else {
        try (Batch batch = storage.newBatch()) {
          for (RecordWithBody record : records) {
            batch.putRecord(record);
          }
          batch.credit(BATCH_ACCOUNT, Amount.of(batchCredit(group)), ExecFixture.PROGRAM_ID);
          report(COMMITTING + group);
          batch.commit();
        }
      }
      report(COMMITTED + group);
    }
  }

  private static void report(String line) {
    System.out.println(line);
    System.out.flush();
  }
}
