package dev.capsulevm.host.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.vm.storage.Batch;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The settlement journal: a program that wrote nothing is charged without a commit of its own, its charge
 * survives the process (a copy of the data directory taken while the store is open is what a SIGKILL leaves
 * behind), is applied exactly once on open, and the charges waiting are bounded.
 */
class SettlementJournalTest {
  private static final PublicKey PAYER = SigningKey.fromSeed(filled(0x51, 32)).publicKey();
  private static final Instant EXPIRY = Instant.now().plus(1, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS);
  private static final Amount MAX_BALANCE = Amount.of(1_000_000);

  @TempDir Path dir;

  @Test
  void aSettlementIsChargedAtOnceWithoutACommitAndCommittedWithTheNextTransaction() throws Exception {
    try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(dir.resolve("s"), 16L << 20, 8)) {
      LmdbLedger ledger = store.ledger(Clock.systemUTC(), MAX_BALANCE, Amount.of(1_000));
      ledger.deposit(PAYER, Amount.of(500));
      long before = store.commitCounts()[0];
      ledger.settle(new Settlement(PAYER, 1, EXPIRY, program(1), Amount.of(7)));
      ledger.settle(Settlement.sessionProgram(PAYER, 2, EXPIRY, program(2), Amount.of(3)));
      assertEquals(before, store.commitCounts()[0], "no transaction for either");
      assertEquals(Amount.of(10), ledger.unsyncedCharges());
      assertEquals(Amount.of(490), ledger.balance(PAYER));
      assertEquals(program(2), ledger.lastProgram(PAYER));
      assertTrue(ledger.nonceUsed(PAYER, 1));
      assertEquals(PricingException.Reason.REPLAYED_NONCE, assertThrows(PricingException.class,
          () -> ledger.settle(new Settlement(PAYER, 1, EXPIRY, program(3), Amount.of(1)))).reason(),
          "a journaled withdrawal's nonce is used");
      assertEquals(PricingException.Reason.INSUFFICIENT_BALANCE, assertThrows(PricingException.class,
          () -> ledger.settle(new Settlement(PAYER, 3, EXPIRY, program(3), Amount.of(491)))).reason(),
          "the journaled charges are taken from the balance");

      // A batch of the store (a write program of the same session) commits the journal first, in order.
      try (Batch batch = store.newBatch()) {
        batch.settle(Settlement.sessionProgram(PAYER, 2, EXPIRY, program(4), Amount.of(5)));
        batch.commit();
      }
      assertEquals(before + 1, store.commitCounts()[0]);
      assertEquals(Amount.ZERO, ledger.unsyncedCharges());
      assertEquals(List.of(new Settlement(PAYER, 1, EXPIRY, program(1), Amount.of(7)),
          new Settlement(PAYER, 2, EXPIRY, program(4), Amount.of(8), Settlement.Kind.SESSION, 2)),
          ledger.settlements(PAYER));
      assertEquals(Amount.of(485), ledger.balance(PAYER));
      assertEquals(program(4), ledger.lastProgram(PAYER));
      assertEquals(0, Files.size(dir.resolve("s").resolve(SettlementJournal.FILE_NAME)), "nothing left to apply");
    }
  }

  @Test
  void aSessionRowAddsUpAcrossTheJournalAndTheDatabases() throws Exception {
    try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(dir.resolve("s"), 16L << 20, 8)) {
      LmdbLedger ledger = store.ledger(Clock.systemUTC(), MAX_BALANCE, Amount.of(1_000));
      ledger.deposit(PAYER, Amount.of(500));
      ledger.settle(Settlement.sessionProgram(PAYER, 9, EXPIRY, program(1), Amount.of(1)));
      ledger.flush();
      ledger.settle(Settlement.sessionProgram(PAYER, 9, EXPIRY, program(2), Amount.of(2)));
      assertEquals(List.of(new Settlement(PAYER, 9, EXPIRY, program(2), Amount.of(3), Settlement.Kind.SESSION, 2)),
          ledger.settlements(PAYER), "the row in LMDB and the journaled program, as one");
      assertEquals(PricingException.Reason.REPLAYED_NONCE, assertThrows(PricingException.class,
          () -> ledger.settle(new Settlement(PAYER, 9, EXPIRY, program(3), Amount.of(1)))).reason(),
          "a withdrawal may not reuse a session's nonce");
    }
  }

  @Test
  void chargesUpToTheBoundWaitAndTheSettlementReachingItCommitsThemAll() throws Exception {
    try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(dir.resolve("s"), 16L << 20, 8)) {
      LmdbLedger ledger = store.ledger(Clock.systemUTC(), MAX_BALANCE, Amount.of(10));
      ledger.deposit(PAYER, Amount.of(500));
      long before = store.commitCounts()[0];
      for (int i = 0; i < 4; i++) {
        ledger.settle(new Settlement(PAYER, i, EXPIRY, program(i), Amount.of(2)));
      }
      assertEquals(Amount.of(8), ledger.unsyncedCharges());
      assertEquals(before, store.commitCounts()[0]);
      ledger.settle(new Settlement(PAYER, 4, EXPIRY, program(4), Amount.of(2)));
      assertEquals(Amount.ZERO, ledger.unsyncedCharges(), "10 units reached the bound of 10: committed");
      assertEquals(before + 1, store.commitCounts()[0], "in one transaction");
      assertEquals(Amount.of(490), ledger.balance(PAYER));
    }
  }

  @Test
  void whatAKilledHostLeftIsAppliedOnceWhenTheStoreReopens() throws Exception {
    Path live = dir.resolve("live");
    Path killed = dir.resolve("killed");
    try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(live, 16L << 20, 8)) {
      LmdbLedger ledger = store.ledger(Clock.systemUTC(), MAX_BALANCE, Amount.of(1_000));
      ledger.deposit(PAYER, Amount.of(500));
      ledger.settle(new Settlement(PAYER, 1, EXPIRY, program(1), Amount.of(7)));
      ledger.flush(); // applied, and the file emptied
      ledger.settle(new Settlement(PAYER, 2, EXPIRY, program(2), Amount.of(11)));
      ledger.settle(Settlement.sessionProgram(PAYER, 3, EXPIRY, program(3), Amount.of(13)));
      copy(live, killed); // what the page cache holds now: the journal's two entries, the databases without them
    }
    for (int reopen = 0; reopen < 2; reopen++) {
      try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(killed, 16L << 20, 8)) {
        LmdbLedger ledger = store.ledger(Clock.systemUTC(), MAX_BALANCE);
        assertEquals(Amount.of(469), ledger.balance(PAYER), "reopen " + reopen + ": each charge taken once");
        assertEquals(List.of(new Settlement(PAYER, 1, EXPIRY, program(1), Amount.of(7)),
            new Settlement(PAYER, 2, EXPIRY, program(2), Amount.of(11)),
            Settlement.sessionProgram(PAYER, 3, EXPIRY, program(3), Amount.of(13))), ledger.settlements(PAYER));
        assertEquals(Amount.ZERO, ledger.unsyncedCharges(), "applied when the store opened");
      }
    }
  }

  @Test
  void entriesAlreadyAppliedAreSkippedAndATornOrDamagedTailIsDropped() throws Exception {
    Path path = dir.resolve("s");
    Settlement applied = new Settlement(PAYER, 1, EXPIRY, program(1), Amount.of(7));
    Settlement next = new Settlement(PAYER, 2, EXPIRY, program(2), Amount.of(11));
    Settlement damaged = new Settlement(PAYER, 3, EXPIRY, program(3), Amount.of(13));
    try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(path, 16L << 20, 8)) {
      LmdbLedger ledger = store.ledger(Clock.systemUTC(), MAX_BALANCE);
      ledger.deposit(PAYER, Amount.of(500));
      ledger.settle(applied);
      ledger.flush(); // sequence 1 applied
    }
    // A crash after the commit that applied entry 1 and before the file was emptied, then entry 2 written
    // whole and entry 3 damaged by an OS crash mid-write, then a torn start of a fourth.
    byte[] third = SettlementJournal.encode(new SettlementJournal.Entry(3, damaged)).array();
    third[40] ^= 1;
    byte[] file = concat(SettlementJournal.encode(new SettlementJournal.Entry(1, applied)).array(),
        SettlementJournal.encode(new SettlementJournal.Entry(2, next)).array(), third, new byte[17]);
    Files.write(path.resolve(SettlementJournal.FILE_NAME), file);
    try (LmdbCapsuleStorage store = LmdbCapsuleStorage.open(path, 16L << 20, 8)) {
      LmdbLedger ledger = store.ledger(Clock.systemUTC(), MAX_BALANCE);
      assertEquals(List.of(applied, next), ledger.settlements(PAYER), "entry 1 once, entry 2, not entry 3");
      assertEquals(Amount.of(482), ledger.balance(PAYER));
      assertEquals("0000000000000002",
          store.dump().get(LmdbLedger.DB_JOURNAL).get("00"), "the last entry applied, kept with the charges");
      ledger.settle(damaged);
      assertEquals(Amount.of(469), ledger.balance(PAYER), "the journal goes on after what it applied");
    }
  }

  /**
   * Between the commit that applied entries and the moment the journal forgets them, a reader whose
   * transaction sees them applied must not count them again: every lookup counts only the entries after the
   * sequence applied as of the reader's transaction.
   */
  @Test
  void aLookupCountsOnlyTheEntriesAfterTheSequenceAppliedAsOfItsTransaction() throws Exception {
    Path path = dir.resolve("s");
    try (LmdbEnvironment environment = LmdbEnvironment.open(path, 16L << 20, 16L << 20, 8,
        LmdbCapsuleStorage.Durability.SYNC, LmdbCapsuleStorage.DATABASES);
        SettlementJournal journal = SettlementJournal.open(path, environment, Instant.now().getEpochSecond())) {
      journal.append(new Settlement(PAYER, 1, EXPIRY, program(1), Amount.of(7)));
      journal.append(Settlement.sessionProgram(PAYER, 2, EXPIRY, program(2), Amount.of(3)));
      journal.append(Settlement.sessionProgram(PAYER, 2, EXPIRY, program(3), Amount.of(5)));
      assertEquals(15, journal.pendingUnits(PAYER, 0));
      assertEquals(8, journal.pendingUnits(PAYER, 1), "entry 1 applied, not forgotten yet");
      assertEquals(5, journal.pendingUnits(PAYER, 2));
      assertEquals(new Settlement(PAYER, 2, EXPIRY, program(3), Amount.of(8), Settlement.Kind.SESSION, 2),
          journal.row(PAYER, 2, 0));
      assertEquals(new Settlement(PAYER, 2, EXPIRY, program(3), Amount.of(5), Settlement.Kind.SESSION, 1),
          journal.row(PAYER, 2, 2));
      assertEquals(new Settlement(PAYER, 1, EXPIRY, program(1), Amount.of(7)), journal.row(PAYER, 1, 0));
      assertEquals(null, journal.row(PAYER, 1, 1));
      assertEquals(Settlement.sessionProgram(PAYER, 2, EXPIRY, program(3), Amount.of(5)), journal.newest(PAYER, 2));
      assertEquals(null, journal.newest(PAYER, 3));
      assertEquals(3L * SettlementJournal.ENTRY_BYTES, Files.size(path.resolve(SettlementJournal.FILE_NAME)));

      journal.applied(2);
      assertEquals(1, journal.pendingCount());
      assertEquals(5, journal.pendingUnits(PAYER, 0));
      assertEquals(null, journal.row(PAYER, 1, 0), "forgotten");
      assertEquals(3L * SettlementJournal.ENTRY_BYTES, Files.size(path.resolve(SettlementJournal.FILE_NAME)),
          "kept whole while an entry is pending");
      journal.applied(3);
      assertEquals(Amount.ZERO, journal.pendingCharges());
      assertEquals(0, Files.size(path.resolve(SettlementJournal.FILE_NAME)), "emptied once nothing is pending");
    }
  }

  /** host/README.md, "The settlement journal": the documented bytes of one entry. */
  @Test
  void anEntryIsTheDocumentedLayout() {
    Settlement session = new Settlement(PAYER, 0x0102, Instant.ofEpochSecond(0x0a0b0c0d), program(7),
        Amount.of(0x33), Settlement.Kind.SESSION, 1);
    byte[] entry = SettlementJournal.encode(new SettlementJournal.Entry(5, session)).array();
    assertEquals(SettlementJournal.ENTRY_BYTES, entry.length);
    assertEquals(105, entry.length);
    ByteBuffer body = ByteBuffer.allocate(101).putLong(5).put(PAYER.toByteArray()).putLong(0x0102).putLong(0x0a0b0c0d)
        .put(program(7).toByteArray()).putLong(0x33).put((byte) 1).putInt(1);
    assertArrayEquals(body.array(), Arrays.copyOf(entry, 101));
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(body.array());
    assertEquals((int) crc.getValue(), ByteBuffer.wrap(entry, 101, 4).getInt(), "CRC-32C of the 101 bytes before it");
    assertEquals("00000005", HexFormat.of().formatHex(entry, 4, 8), "the sequence number, big-endian");
  }

  private static void copy(Path from, Path to) throws Exception {
    Files.createDirectories(to);
    try (Stream<Path> files = Files.list(from)) {
      for (Path file : files.toList()) {
        if (!file.getFileName().toString().equals("lock.mdb")) {
          Files.write(to.resolve(file.getFileName()), Files.readAllBytes(file), StandardOpenOption.CREATE_NEW);
        }
      }
    }
  }

  private static byte[] concat(byte[]... parts) {
    int length = 0;
    for (byte[] part : parts) {
      length += part.length;
    }
    ByteBuffer out = ByteBuffer.allocate(length);
    for (byte[] part : parts) {
      out.put(part);
    }
    return out.array();
  }

  private static Hash program(int n) {
    return Hash.copyOf(filled(n, Hash.LENGTH));
  }

  private static byte[] filled(int value, int length) {
    byte[] bytes = new byte[length];
    Arrays.fill(bytes, (byte) value);
    return bytes;
  }
}
