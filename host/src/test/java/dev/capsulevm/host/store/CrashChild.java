package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.pricing.SessionHold;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.Outcome;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.Snapshot;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The process {@link CrashSafetyTest} kills: it commits groups of records to one capsule in a loop while
 * {@link #READERS} threads run read-only programs on it, every program paid as a host pays: its budget
 * held in memory ({@link Reservations}), its cost settled once when it ends, group-committed with the
 * others. Group {@code g} holds {@code 1 + g % 3} chained records whose first sub-record reads
 * {@code "g/j/size/path"}. Even groups run through the {@link Executor}, their settlement committed with
 * the records; odd groups are one batch with a settlement of {@link #batchCost}(g). Groups are paid from
 * {@link #account}(0), reader {@code r} from account {@code r}; each account is funded with {@link #FUND}
 * once. Every run continues after the group of the capsule's head.
 *
 * <p>It reports on standard output as it goes: {@link #HELD} account nonce program-id before a program's
 * budget can be settled, {@link #SETTLED} account nonce cost once its settlement is durable (the moment a
 * host sends the receipt), {@link #COMMITTING} g just before group g's commit, {@link #COMMITTED} g once it
 * returned; for the session reader, {@link #SESSION} account nonce when it opens a session (before any of
 * its programs can settle), {@link #SESSION_HELD} account nonce program-id before each program's budget can
 * be settled and {@link #SESSION_SETTLED} account nonce cost once it is durable. Argument: the store
 * directory.
 */
public final class CrashChild {
  static final CapsuleFixture CAPSULE = new CapsuleFixture("crash-safety");
  static final long MAP_SIZE = 256L << 20;
  static final String COMMITTING = "committing ";
  static final String COMMITTED = "committed ";
  static final String HELD = "held ";
  static final String SETTLED = "settled ";
  static final String SESSION = "session ";
  static final String SESSION_HELD = "session-held ";
  static final String SESSION_SETTLED = "session-settled ";
  /** Threads running read-only programs beside the writer. */
  static final int READERS = 3;
  /** The account, and thread, whose read-only programs are paid from payment sessions. */
  static final int SESSION_READER = READERS + 1;
  /** What each payment session holds: ten programs' budgets. */
  static final long SESSION_AMOUNT = 10 * ExecFixture.BUDGET;
  /** What each account is funded with, once. */
  static final long FUND = Amount.ofCap(100_000).units();
  static final Amount MAX_BALANCE = Amount.ofCap(1_000_000);

  private CrashChild() {}

  /**
   * The paying account {@code index}: 0 pays the groups, 1 to {@link #READERS} the readers,
   * {@link #SESSION_READER} the session reader.
   */
  static PublicKey account(int index) {
    byte[] seed = new byte[32];
    ByteBuffer.wrap(seed).putInt(index).putInt(0x6d6f6e);
    return SigningKey.fromSeed(seed).publicKey();
  }

  /** The program id group {@code g} is settled under, however many runs it takes. */
  static Hash groupProgram(long group) {
    return Sha256.hash(Domain.PROGRAM_ID, ("group " + group).getBytes(StandardCharsets.UTF_8));
  }

  static long batchCost(long group) {
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
    Clock clock = Clock.systemUTC();
    LmdbCapsuleStorage storage = LmdbCapsuleStorage.open(dir, MAP_SIZE, 64);
    LmdbLedger ledger = storage.ledger(clock, MAX_BALANCE);
    Reservations holds = new Reservations(ledger, clock, Duration.ofHours(2), Amount.MAX);
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    Executor executor = new Executor(storage, clock, Duration.ofHours(1), Duration.ofSeconds(10),
        WireSizes.OUTPUT_ENVELOPE_BYTES, ExecFixture.HOST, scheduler);
    if (!storage.hasCapsule(CAPSULE.id())) {
      try (Batch batch = storage.newBatch()) {
        batch.createCapsule(CAPSULE.metadata);
        batch.commit();
      }
    }
    for (int a = 0; a <= SESSION_READER; a++) {
      if (ledger.balance(account(a)).isZero() && ledger.settlements(account(a)).isEmpty()) {
        ledger.deposit(account(a), Amount.of(FUND));
      }
    }
    SecureRandom random = new SecureRandom();
    for (int r = 1; r <= READERS; r++) {
      int reader = r;
      Thread thread = new Thread(() -> read(reader, holds, executor, clock, random), "reader-" + r);
      thread.setDaemon(true);
      thread.start();
    }
    Thread sessions = new Thread(() -> readInSessions(holds, executor, clock, random), "session-reader");
    sessions.setDaemon(true);
    sessions.start();
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
      Reservation payment = hold(holds, 0, random, clock, groupProgram(group));
      if (throughExecutor(group)) {
        ExecFixture.Builder append = new ExecFixture.Builder(CAPSULE.id());
        append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(records))));
        Meter meter = Meter.open(ExecFixture.table(), groupProgram(group), CAPSULE.id(), payment.amount(), 100, 10,
            holds.refunderFor(payment), clock);
        PendingCommit pending =
            (PendingCommit) executor.run(append.program(), append.data(), meter, payment, o -> { });
        report(COMMITTING + group);
        long cost = pending.confirm().receipt().finalCost().units();
        report(SETTLED + "0 " + payment.nonce() + " " + cost);
      } else {
        try (Batch batch = storage.newBatch()) {
          for (RecordWithBody record : records) {
            batch.putRecord(record);
          }
          batch.settle(payment.settlement(payment.amount().minus(Amount.of(batchCost(group))), groupProgram(group)));
          report(COMMITTING + group);
          batch.commit();
        }
        payment.committed();
        report(SETTLED + "0 " + payment.nonce() + " " + batchCost(group));
      }
      report(COMMITTED + group);
    }
  }

  /** Holds a budget of account {@code a} for program {@code program} under a fresh nonce, and says so first. */
  private static Reservation hold(Reservations holds, int a, SecureRandom random, Clock clock, Hash program)
      throws Exception {
    long nonce = random.nextLong() & Long.MAX_VALUE;
    Instant expiry = clock.instant().plus(Duration.ofHours(1)).truncatedTo(ChronoUnit.SECONDS);
    // Reported before anything can settle it, so every settlement the parent finds names a program it saw.
    report(HELD + a + " " + nonce + " " + program.toHex());
    return holds.reserve(account(a), Amount.of(ExecFixture.BUDGET), nonce, expiry);
  }

  /** Reader {@code r}: read-only programs in a loop, each settled (group-committed) before it counts. */
  private static void read(int r, Reservations holds, Executor executor, Clock clock, SecureRandom random) {
    try {
      while (true) {
        ExecFixture.Builder heads = headsProgram();
        Hash program = uniqueHeadsProgram(random);
        Reservation payment = hold(holds, r, random, clock, program);
        Meter meter = Meter.open(ExecFixture.table(), program, CAPSULE.id(), payment.amount(), 100, 10,
            holds.refunderFor(payment), clock);
        Outcome.Finished done = (Outcome.Finished) executor.run(heads.program(), heads.data(), meter, payment, o -> { });
        if (!payment.isCommitted()) {
          throw new IllegalStateException("a read's settlement was not written", payment.failureOrNull());
        }
        report(SETTLED + r + " " + payment.nonce() + " " + done.receipt().receipt().finalCost().units());
      }
    } catch (Exception | Error e) {
      e.printStackTrace();
      System.exit(3);
    }
  }

  /**
   * The session reader: read-only programs in a loop, each paid from the current payment session (a new one
   * opened when the session cannot hold another budget), each counted once its settlement is durable.
   */
  private static void readInSessions(Reservations holds, Executor executor, Clock clock, SecureRandom random) {
    int a = SESSION_READER;
    try {
      SessionHold session = openSession(holds, random, clock);
      while (true) {
        Hash program = uniqueHeadsProgram(random);
        ExecFixture.Builder heads = headsProgram();
        Reservation payment;
        try {
          payment = session.reserve(Amount.of(ExecFixture.BUDGET));
        } catch (PricingException e) {
          session.close(); // its remainder cannot hold another budget
          session = openSession(holds, random, clock);
          continue;
        }
        // Reported before anything can settle it, as for a withdrawal.
        report(SESSION_HELD + a + " " + session.nonce() + " " + program.toHex());
        Meter meter = Meter.open(ExecFixture.table(), program, CAPSULE.id(), payment.amount(), 100, 10,
            holds.refunderFor(payment), clock);
        Outcome.Finished done = (Outcome.Finished) executor.run(heads.program(), heads.data(), meter, payment, o -> { });
        if (!payment.isCommitted()) {
          throw new IllegalStateException("a session read's settlement was not written", payment.failureOrNull());
        }
        report(SESSION_SETTLED + a + " " + session.nonce() + " " + done.receipt().receipt().finalCost().units());
      }
    } catch (Exception | Error e) {
      e.printStackTrace();
      System.exit(3);
    }
  }

  /** Opens a payment session of the session reader's account under a fresh nonce, and says so first. */
  private static SessionHold openSession(Reservations holds, SecureRandom random, Clock clock) throws PricingException {
    long nonce = random.nextLong() & Long.MAX_VALUE;
    Instant expiry = clock.instant().plus(Duration.ofHours(1)).truncatedTo(ChronoUnit.SECONDS);
    report(SESSION + SESSION_READER + " " + nonce);
    return holds.openSession(account(SESSION_READER), Amount.of(SESSION_AMOUNT), nonce, expiry);
  }

  private static ExecFixture.Builder headsProgram() {
    ExecFixture.Builder heads = new ExecFixture.Builder(CAPSULE.id());
    heads.add(new Instruction.Heads());
    return heads;
  }

  /** A program id unique per run, like a real one (which covers its payment): the encoding and 16 random bytes. */
  private static Hash uniqueHeadsProgram(SecureRandom random) {
    byte[] encoding = ProgramEncoding.encode(headsProgram().program());
    byte[] unique = Arrays.copyOf(encoding, encoding.length + 16);
    byte[] salt = new byte[16];
    random.nextBytes(salt);
    System.arraycopy(salt, 0, unique, encoding.length, 16);
    return Sha256.hash(Domain.PROGRAM_ID, unique);
  }

  private static synchronized void report(String line) {
    System.out.println(line);
    System.out.flush();
  }
}
