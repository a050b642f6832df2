package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.storage.StorageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;
import org.lmdbjava.Dbi;
import org.lmdbjava.Txn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The settlements of programs that wrote nothing (reads; writes refused or failed), kept in an
 * append-only file beside the LMDB environment until a write transaction of the store applies them to the
 * ledger's databases. Writing an entry is one {@code write} into the OS page cache, no flush: it survives a
 * crash of the process (even SIGKILL), which is what lets the host hand out the program's receipt without a
 * synced commit of its own. Only an OS crash or power loss can lose entries, those not yet applied to LMDB
 * by a synced commit: the host's charges, never a renter's money, and bounded by the ledger's flush policy
 * ({@link LmdbLedger}).
 *
 * <p>Exactly once: every entry carries a sequence number, and the transaction that applies entries also
 * writes the last one it applied ({@link LmdbLedger#DB_JOURNAL}); on open, the entries after it are
 * applied ({@link #open}), so an entry is never applied twice nor lost, wherever a crash fell.
 *
 * <p>Layout of the file ({@value #FILE_NAME}): fixed entries of {@value #ENTRY_BYTES} bytes, big-endian:
 * sequence u64, account (32), nonce u64, expiry epoch second u64, program id (32), cost u64, kind u8
 * (0 withdrawal, 1 session), programs u32, then the CRC-32C of those 101 bytes (u32). A last entry cut
 * short or failing its checksum (an OS crash mid-write) ends the file; what follows it is dropped.
 *
 * <p>Not thread-safe on its own: callers hold the journal's monitor ({@code synchronized (journal)}), so a
 * reader sees the ledger's databases and the pending entries as of one moment.
 */
final class SettlementJournal implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SettlementJournal.class);
  static final String FILE_NAME = "settlements.journal";
  private static final int BODY_BYTES =
      Long.BYTES + PublicKey.LENGTH + Long.BYTES + Long.BYTES + Hash.LENGTH + Long.BYTES + 1 + Integer.BYTES;
  static final int ENTRY_BYTES = BODY_BYTES + Integer.BYTES;
  /** Past this size, a file whose entries are not all applied is rewritten with the pending ones alone. */
  static final long COMPACT_BYTES = 1L << 20;
  private static final byte[] APPLIED_KEY = {0};

  /** A settlement in the journal and its sequence number. */
  record Entry(long seq, Settlement settlement) {}

  private final Path file;
  private FileChannel channel;
  private long size;
  private long nextSeq;
  private boolean broken;
  /** Written, not yet known to be applied to LMDB by a committed transaction; in sequence order. */
  private final ArrayDeque<Entry> pending = new ArrayDeque<>();
  /** The same entries by account and by account and nonce, with their totals, so a lookup is O(1). */
  private final Map<PublicKey, Group> byAccount = new HashMap<>();
  private final Map<NonceKey, Group> byNonce = new HashMap<>();
  private long pendingUnits;

  private record NonceKey(PublicKey account, long nonce) {}

  /**
   * Pending entries sharing an account (or an account and a nonce), oldest first, and their costs summed.
   * A reader wants those after the sequence applied as of its read transaction: the totals less the
   * oldest few, applied and not forgotten yet (none, but in the moment between a commit and
   * {@link #applied}).
   */
  private static final class Group {
    final ArrayDeque<Entry> entries = new ArrayDeque<>();
    long units;

    void add(Entry entry) {
      entries.addLast(entry);
      units += entry.settlement().cost().units();
    }

    /** Drops the oldest entry, which must be {@code entry}; whether the group is empty now. */
    boolean removeOldest(Entry entry) {
      Entry oldest = entries.removeFirst();
      if (oldest.seq() != entry.seq()) {
        throw new IllegalStateException("journal entries forgotten out of order: " + oldest.seq() + ", " + entry.seq());
      }
      units -= entry.settlement().cost().units();
      return entries.isEmpty();
    }

    /** The costs of the entries after {@code appliedSeq}, and how many there are. */
    long[] after(long appliedSeq) {
      long sum = units;
      int count = entries.size();
      for (Entry entry : entries) {
        if (entry.seq() > appliedSeq) {
          break;
        }
        sum -= entry.settlement().cost().units();
        count--;
      }
      return new long[] {sum, count};
    }
  }

  private SettlementJournal(Path file, FileChannel channel, long nextSeq) {
    this.file = file;
    this.channel = channel;
    this.nextSeq = nextSeq;
  }

  /**
   * Opens the journal in {@code directory}, creating it when absent, after applying to {@code environment}
   * (in one synced write transaction) every entry its ledger has not applied yet; the file is then empty.
   * An entry the ledger refuses (it never should: each was checked before it was written) is logged and
   * skipped.
   */
  static SettlementJournal open(Path directory, LmdbEnvironment environment, long nowSecond) throws IOException {
    Path file = directory.resolve(FILE_NAME);
    List<Entry> found = Files.exists(file) ? readAll(file) : List.of();
    long last = environment.write(txn -> {
      long applied = appliedSeq(environment, txn);
      List<Entry> todo = found.stream().filter(e -> e.seq() > applied).toList();
      if (!todo.isEmpty()) {
        log.info("applying {} settlement(s) from {} that the ledger had not applied", todo.size(), file);
        return applyAll(environment, txn, todo, nowSecond);
      }
      return applied;
    });
    long lastInFile = found.isEmpty() ? 0 : found.get(found.size() - 1).seq();
    FileChannel channel = openChannel(file);
    try {
      channel.truncate(0);
    } catch (IOException e) {
      channel.close();
      throw e;
    }
    return new SettlementJournal(file, channel, Math.max(last, lastInFile) + 1);
  }

  /**
   * Writes {@code settlement} to the file (no flush) and keeps it pending. When the write fails the file is
   * cut back to where it was, the journal is marked broken ({@link #broken()}) and the settlement is not
   * pending.
   */
  Entry append(Settlement settlement) throws IOException {
    if (broken) {
      throw new IOException("the settlement journal " + file + " is broken after an earlier failed write");
    }
    Entry entry = new Entry(nextSeq, settlement);
    ByteBuffer bytes = encode(entry);
    try {
      writeAt(channel, bytes, size);
    } catch (IOException | RuntimeException e) {
      broken = true;
      try {
        channel.truncate(size);
      } catch (IOException again) {
        e.addSuppressed(again);
      }
      throw e;
    }
    size += ENTRY_BYTES;
    nextSeq++;
    pending.addLast(entry);
    byAccount.computeIfAbsent(settlement.account(), k -> new Group()).add(entry);
    byNonce.computeIfAbsent(new NonceKey(settlement.account(), settlement.nonce()), k -> new Group()).add(entry);
    pendingUnits += settlement.cost().units();
    return entry;
  }

  /** Whether a write failed: the ledger then commits each settlement itself. */
  boolean broken() {
    return broken;
  }

  /** The pending settlements of {@code account} after sequence {@code appliedSeq}, oldest first. */
  List<Settlement> pending(PublicKey account, long appliedSeq) {
    Group mine = byAccount.get(account);
    if (mine == null) {
      return List.of();
    }
    List<Settlement> out = new ArrayList<>(mine.entries.size());
    for (Entry entry : mine.entries) {
      if (entry.seq() > appliedSeq) {
        out.add(entry.settlement());
      }
    }
    return out;
  }

  /** The costs of the pending settlements of {@code account} after sequence {@code appliedSeq}. */
  long pendingUnits(PublicKey account, long appliedSeq) {
    Group mine = byAccount.get(account);
    return mine == null ? 0 : mine.after(appliedSeq)[0];
  }

  /** The newest pending settlement of {@code account} after sequence {@code appliedSeq}, or null. */
  @Nullable Settlement newest(PublicKey account, long appliedSeq) {
    Group mine = byAccount.get(account);
    Entry last = mine == null ? null : mine.entries.peekLast();
    return last == null || last.seq() <= appliedSeq ? null : last.settlement();
  }

  /**
   * The pending settlements under {@code nonce} of {@code account} after sequence {@code appliedSeq} as
   * one row (the first's kind and expiry, the newest program, the costs and program counts summed), or
   * null when there are none.
   */
  @Nullable Settlement row(PublicKey account, long nonce, long appliedSeq) {
    Group group = byNonce.get(new NonceKey(account, nonce));
    if (group == null) {
      return null;
    }
    long[] after = group.after(appliedSeq);
    if (after[1] == 0) {
      return null;
    }
    Settlement first = group.entries.peekFirst().settlement();
    Settlement last = group.entries.peekLast().settlement();
    if (first.kind() == Settlement.Kind.WITHDRAWAL) {
      return last; // a second withdrawal under a nonce is refused before it is journaled: one entry
    }
    return new Settlement(account, nonce, first.expiry(), last.programId(), Amount.of(after[0]),
        Settlement.Kind.SESSION, (int) after[1]);
  }

  /** How many settlements are pending. */
  int pendingCount() {
    return pending.size();
  }

  /** The costs of the pending settlements, summed: the charges an OS crash could lose now. */
  Amount pendingCharges() {
    return Amount.of(pendingUnits);
  }

  /** A copy of the pending entries, oldest first, for a transaction to apply. */
  List<Entry> pendingEntries() {
    return List.copyOf(pending);
  }

  /**
   * Forgets the entries up to {@code seq}, which a committed transaction applied; empties the file when
   * nothing is pending, or rewrites it with the pending entries alone once it passed
   * {@link #COMPACT_BYTES} (a new file renamed over the old one, so a crash leaves one or the other whole).
   */
  void applied(long seq) {
    while (!pending.isEmpty() && pending.peekFirst().seq() <= seq) {
      Entry done = pending.removeFirst();
      Settlement settlement = done.settlement();
      pendingUnits -= settlement.cost().units();
      Group mine = byAccount.get(settlement.account());
      if (mine != null && mine.removeOldest(done)) {
        byAccount.remove(settlement.account());
      }
      NonceKey key = new NonceKey(settlement.account(), settlement.nonce());
      Group group = byNonce.get(key);
      if (group != null && group.removeOldest(done)) {
        byNonce.remove(key);
      }
    }
    if (broken) {
      return;
    }
    try {
      if (pending.isEmpty()) {
        channel.truncate(0);
        size = 0;
      } else if (size > COMPACT_BYTES) {
        compact();
      }
    } catch (IOException e) {
      // The file keeps entries already applied; the next open skips them by their sequence numbers.
      log.warn("could not shrink the settlement journal {}: {}", file, e.toString());
    }
  }

  private void compact() throws IOException {
    Path fresh = file.resolveSibling(FILE_NAME + ".new");
    try (FileChannel out = openChannel(fresh)) {
      out.truncate(0);
      long at = 0;
      for (Entry entry : pending) {
        writeAt(out, encode(entry), at);
        at += ENTRY_BYTES;
      }
    }
    Files.move(fresh, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    FileChannel old = channel;
    channel = openChannel(file);
    size = (long) pending.size() * ENTRY_BYTES;
    old.close();
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  // ---- the ledger's side: what LMDB knows of the journal

  /** The last sequence number applied to the ledger's databases as of {@code txn}; 0 for none. */
  static long appliedSeq(LmdbEnvironment environment, Txn<ByteBuffer> txn) {
    ByteBuffer value = environment.dbi(LmdbLedger.DB_JOURNAL).get(txn, Layout.direct(APPLIED_KEY));
    if (value == null) {
      return 0;
    }
    if (value.remaining() != Long.BYTES) {
      throw new StorageCorruptionException("database " + LmdbLedger.DB_JOURNAL + ": the applied sequence is "
          + value.remaining() + " bytes, not 8");
    }
    return value.getLong(value.position());
  }

  /**
   * Applies {@code entries} (oldest first) to the ledger inside {@code txn} and records the last one's
   * sequence as applied; returns it. An entry the ledger refuses is logged and skipped.
   */
  static long applyAll(LmdbEnvironment environment, Txn<ByteBuffer> txn, List<Entry> entries, long nowSecond) {
    long last = appliedSeq(environment, txn);
    for (Entry entry : entries) {
      if (entry.seq() <= last) {
        continue; // applied by an earlier transaction
      }
      try {
        LmdbLedger.settle(environment, txn, entry.settlement(), nowSecond);
      } catch (StorageException e) {
        log.error("journaled settlement {} of program {} refused by the ledger, not charged: {}", entry.seq(),
            entry.settlement().programId(), e.getMessage());
      }
      last = entry.seq();
    }
    Dbi<ByteBuffer> journal = environment.dbi(LmdbLedger.DB_JOURNAL);
    ByteBuffer value = ByteBuffer.allocateDirect(Long.BYTES);
    journal.put(txn, Layout.direct(APPLIED_KEY), value.putLong(last).flip());
    return last;
  }

  // ---- the file

  private static FileChannel openChannel(Path file) throws IOException {
    Set<StandardOpenOption> options = Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      FileAttribute<?> ownerOnly = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
      return FileChannel.open(file, options, ownerOnly);
    }
    return FileChannel.open(file, options);
  }

  /** Writes all of {@code bytes} at {@code position}: a positional write may take several calls. */
  private static void writeAt(FileChannel channel, ByteBuffer bytes, long position) throws IOException {
    long at = position;
    while (bytes.hasRemaining()) {
      at += channel.write(bytes, at);
    }
  }

  static ByteBuffer encode(Entry entry) {
    Settlement s = entry.settlement();
    ByteBuffer bytes = ByteBuffer.allocate(ENTRY_BYTES);
    bytes.putLong(entry.seq()).put(s.account().toByteArray()).putLong(s.nonce()).putLong(s.expiry().getEpochSecond())
        .put(s.programId().toByteArray()).putLong(s.cost().units())
        .put((byte) (s.kind() == Settlement.Kind.SESSION ? 1 : 0)).putInt(s.programs());
    CRC32C crc = new CRC32C();
    crc.update(bytes.array(), 0, BODY_BYTES);
    bytes.putInt((int) crc.getValue());
    return bytes.flip();
  }

  /** The whole entries of {@code file} up to the first torn or damaged one, in file order. */
  static List<Entry> readAll(Path file) throws IOException {
    byte[] all = Files.readAllBytes(file);
    List<Entry> out = new ArrayList<>();
    long previous = 0;
    for (int at = 0; at + ENTRY_BYTES <= all.length; at += ENTRY_BYTES) {
      Entry entry = decodeOrNull(all, at, previous);
      if (entry == null) {
        log.warn("{}: entry at byte {} is damaged; it and the {} byte(s) after it are ignored", file, at,
            all.length - at - ENTRY_BYTES);
        return out;
      }
      out.add(entry);
      previous = entry.seq();
    }
    if (all.length % ENTRY_BYTES != 0) {
      log.warn("{}: the last {} byte(s) are a torn entry; ignored", file, all.length % ENTRY_BYTES);
    }
    return out;
  }

  /** One entry, or null when its checksum fails, a field is out of range or its sequence does not grow. */
  private static @Nullable Entry decodeOrNull(byte[] all, int at, long previousSeq) {
    CRC32C crc = new CRC32C();
    crc.update(all, at, BODY_BYTES);
    ByteBuffer bytes = ByteBuffer.wrap(all, at, ENTRY_BYTES);
    int stored = bytes.getInt(at + BODY_BYTES);
    if (stored != (int) crc.getValue()) {
      return null;
    }
    long seq = bytes.getLong();
    byte[] account = new byte[PublicKey.LENGTH];
    bytes.get(account);
    long nonce = bytes.getLong();
    long expiry = bytes.getLong();
    byte[] program = new byte[Hash.LENGTH];
    bytes.get(program);
    long cost = bytes.getLong();
    byte kind = bytes.get();
    int programs = bytes.getInt();
    if (seq <= previousSeq || expiry < 0 || cost < 0 || (kind != 0 && kind != 1)) {
      return null;
    }
    try {
      Settlement settlement = new Settlement(PublicKey.copyOf(account), nonce, Instant.ofEpochSecond(expiry),
          Hash.copyOf(program), Amount.of(cost), kind == 1 ? Settlement.Kind.SESSION : Settlement.Kind.WITHDRAWAL,
          programs);
      return new Entry(seq, settlement);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
