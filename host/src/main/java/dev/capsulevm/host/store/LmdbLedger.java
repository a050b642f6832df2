package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.AmountOverflowException;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Settlement;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.storage.StagedBatch;
import dev.capsulevm.vm.storage.StagedWrite;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.lmdbjava.Cursor;
import org.lmdbjava.Dbi;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.CursorIterable.KeyVal;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Ledger} of pricing's accounts in the LMDB environment of an {@link LmdbCapsuleStorage}
 * (obtained from {@link LmdbCapsuleStorage#ledger}); it owns the ledger's databases. It has the semantics
 * of {@link dev.capsulevm.pricing.InMemoryLedger}: balances, a maximum that deposits respect, each
 * program's settlement remembered under its withdrawal's nonce until the withdrawal expires, a payment
 * session's programs accumulated in one row under the session's nonce until the session expires. A
 * {@link #settle} is a batch of the store ({@link dev.capsulevm.vm.storage.Batch#settle}), so it is
 * group-committed with the other programs ending at the same moment; a deposit is a transaction of its
 * own; reads are read transactions. Everything is as durable as the store's commits.
 *
 * <p>Layout (host/README.md): {@code accounts} maps the account key (32) to its balance (u64 big-endian)
 * followed, once a program has been settled against the account, by that last program's id (32): 8 or
 * 40 bytes, so a value written before the last program was kept (8 bytes) reads as "none";
 * {@code nonces} maps account (32) ‖ nonce (u64) to the withdrawal's expiry (epoch second, u64), the
 * program id (32) and its cost (u64): 48 bytes (a host before settlements wrote the expiry alone, 8
 * bytes: a used nonce with no settlement); a session's row is 53 bytes, its expiry, last program id and
 * total cost followed by the kind (1 byte, 1 = session) and the program count (u32), so every value a
 * host before sessions wrote reads unchanged as a withdrawal's; {@code nonce-expiry} holds the same nonces under expiry (u64)
 * ‖ account (32) ‖ nonce (u64), so a settlement first drops, in the same transaction, every nonce whose
 * withdrawal has expired.
 */
public final class LmdbLedger implements Ledger {
  private static final Logger log = LoggerFactory.getLogger(LmdbLedger.class);
  /** Balance (u64), then the last program settled against the account (32) if any, by account public key (32). */
  static final String DB_ACCOUNTS = "accounts";
  /**
   * Settled nonces: expiry (u64), program id (32), cost (u64), and for a session kind (1) and program
   * count (u32), by account (32), nonce (u64).
   */
  static final String DB_NONCES = "nonces";
  /** The same nonces in expiry order, for pruning: empty values under expiry (u64), account (32), nonce (u64). */
  static final String DB_NONCE_EXPIRY = "nonce-expiry";
  /** The last sequence number of the {@link SettlementJournal} applied here: u64 under the key {@code 00}. */
  static final String DB_JOURNAL = "settlement-journal";
  /** The ledger's databases, in the order the store opens them. */
  static final List<String> DATABASES = List.of(DB_ACCOUNTS, DB_NONCES, DB_NONCE_EXPIRY, DB_JOURNAL);
  /** Past this many journaled settlements not yet in LMDB, the next settlement commits them all. */
  static final int MAX_PENDING = 4096;
  /** A withdrawal's settled nonce: expiry, program id, cost. */
  private static final int SETTLED_BYTES = Long.BYTES + Hash.LENGTH + Long.BYTES;
  /** A session's settled nonce: expiry, last program id, total cost, kind, program count. */
  private static final int SESSION_BYTES = SETTLED_BYTES + 1 + Integer.BYTES;
  /** The kind byte of a session's row (a withdrawal's row has none: it is {@link #SETTLED_BYTES} long). */
  private static final byte KIND_SESSION = 1;

  private final LmdbEnvironment environment;
  private final StagedBatch.Applier commits;
  private final SettlementJournal journal;
  private final Runnable flushNow;
  private final Runnable flushSoon;
  private final Dbi<ByteBuffer> accounts;
  private final Dbi<ByteBuffer> nonces;
  private final Clock clock;
  private final Amount maxBalance;
  private final Amount maxUnsynced;

  /**
   * A ledger over {@code environment} whose settlements are committed by {@code commits} (the store's
   * batches) or, for programs that wrote nothing, written to {@code journal} first; once the journal holds
   * {@code maxUnsynced} of charges or {@link #MAX_PENDING} settlements, the next settlement commits them
   * ({@code flushNow}, the store's), and {@code flushSoon} asks for a commit a little later after the first.
   */
  LmdbLedger(LmdbEnvironment environment, StagedBatch.Applier commits, SettlementJournal journal, Runnable flushNow,
      Runnable flushSoon, Clock clock, Amount maxBalance, Amount maxUnsynced) {
    this.environment = Objects.requireNonNull(environment, "environment");
    this.commits = Objects.requireNonNull(commits, "commits");
    this.journal = Objects.requireNonNull(journal, "journal");
    this.flushNow = Objects.requireNonNull(flushNow, "flushNow");
    this.flushSoon = Objects.requireNonNull(flushSoon, "flushSoon");
    this.accounts = environment.dbi(DB_ACCOUNTS);
    this.nonces = environment.dbi(DB_NONCES);
    this.clock = Objects.requireNonNull(clock, "clock");
    this.maxBalance = Objects.requireNonNull(maxBalance, "maxBalance");
    this.maxUnsynced = Objects.requireNonNull(maxUnsynced, "maxUnsynced");
  }

  /** {@inheritDoc} Journaled settlements are committed first, so the maximum is checked against them too. */
  @Override
  public void deposit(PublicKey account, Amount amount) throws PricingException {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    flush();
    environment.update(txn -> {
      Entry entry = entry(accounts, txn, account);
      long now;
      synchronized (journal) { // inside the write transaction, as a commit's leader takes it
        now = entry.balance() - pendingCost(txn, account);
      }
      // As a difference, so no sum overflows; a credit may have lifted the balance above the maximum.
      if (amount.units() > maxBalance.units() - now) {
        throw new PricingException(PricingException.Reason.BALANCE_LIMIT, "account " + account + " holds "
            + now + " units; depositing " + amount.units() + " exceeds the maximum " + maxBalance.units());
      }
      put(accounts, txn, account, new Entry(entry.balance() + amount.units(), entry.lastProgramOrNull()));
    });
  }

  @Override
  public Amount balance(PublicKey account) {
    Objects.requireNonNull(account, "account");
    return Amount.of(readWithJournal(txn -> entry(accounts, txn, account).balance() - pendingCost(txn, account)));
  }

  @Override
  public @Nullable Hash lastProgram(PublicKey account) {
    Objects.requireNonNull(account, "account");
    return readWithJournal(txn -> {
      Settlement newest = journal.newest(account, SettlementJournal.appliedSeq(environment, txn));
      return newest == null ? entry(accounts, txn, account).lastProgramOrNull() : newest.programId();
    });
  }

  /**
   * {@inheritDoc} A program that wrote nothing has its settlement checked against the ledger and written to
   * the journal ({@link SettlementJournal}): no commit of its own, durable against a crash of the process
   * once this returns, and committed to LMDB with the store's next write transaction. When the journal
   * cannot be written, the settlement is one batch of the store, committed with whatever other batches are
   * waiting (one synced transaction for all of them).
   */
  @Override
  public void settle(Settlement settlement) throws PricingException {
    Objects.requireNonNull(settlement, "settlement");
    boolean journaled = false;
    boolean first = false;
    boolean full = false;
    synchronized (journal) {
      if (!journal.broken()) {
        check(settlement);
        try {
          journal.append(settlement);
          journaled = true;
          first = journal.pendingCount() == 1;
          full = journal.pendingCount() >= MAX_PENDING || journal.pendingCharges().units() >= maxUnsynced.units();
        } catch (IOException e) {
          log.error("the settlement journal failed; settlements are committed one by one from now on: {}",
              e.toString());
        }
      }
    }
    // Outside the journal's monitor: a commit's leader takes it to read the journal.
    if (!journaled) {
      commit(settlement);
    } else if (full) {
      flushNow.run();
    } else if (first) {
      flushSoon.run();
    }
  }

  /**
   * Commits the journaled settlements to LMDB (one synced transaction), if there are any; when that fails
   * they stay journaled (charged) for the next commit or the next open, and the failure is logged.
   */
  public void flush() {
    flushNow.run();
  }

  /** The charges journaled and not yet committed to LMDB: what an OS crash could take from the host now. */
  public Amount unsyncedCharges() {
    synchronized (journal) {
      return journal.pendingCharges();
    }
  }

  /**
   * Under the journal's monitor: refuses what {@link #settle(LmdbEnvironment, Txn, Settlement, long)} would,
   * against the ledger's databases and the journaled settlements together.
   */
  private void check(Settlement settlement) throws PricingException {
    long nowSecond = clock.instant().getEpochSecond();
    PricingException refused = environment.read(txn -> {
      PublicKey account = settlement.account();
      Settlement row = null;
      boolean used = false;
      ByteBuffer stored = nonces.get(txn, nonceKey(account, settlement.nonce()));
      if (stored != null && stored.getLong(stored.position()) > nowSecond) {
        used = true;
        row = settlementOrNull(account, settlement.nonce(), stored);
      }
      long applied = SettlementJournal.appliedSeq(environment, txn);
      long balance = entry(accounts, txn, account).balance() - journal.pendingUnits(account, applied);
      Settlement pending = journal.row(account, settlement.nonce(), applied);
      if (pending != null && pending.expiry().getEpochSecond() > nowSecond) {
        used = true;
        row = row == null ? pending : accumulatedOrNull(row, pending);
      }
      return refusalOrNull(settlement, used, row, balance);
    });
    if (refused != null) {
      throw refused;
    }
  }

  /** The settlement as one batch of the store, committed with the others waiting. */
  private void commit(Settlement settlement) throws PricingException {
    try {
      commits.apply(List.of(new StagedWrite.Settle(settlement)));
    } catch (StorageException e) {
      if (e.reason() == Reason.SETTLEMENT_REFUSED) {
        String why = String.valueOf(e.getMessage());
        PricingException.Reason reason = PricingException.Reason.INSUFFICIENT_BALANCE;
        for (PricingException.Reason named : List.of(PricingException.Reason.REPLAYED_NONCE,
            PricingException.Reason.LIMIT_EXCEEDED)) {
          if (why.startsWith(named.name() + ":")) {
            reason = named;
          }
        }
        throw new PricingException(reason, why);
      }
      throw new IllegalStateException("the settlement of program " + settlement.programId() + " was not written: "
          + e.getMessage(), e);
    }
  }

  /**
   * {@inheritDoc} A nonce whose withdrawal (session) has expired counts as unused: it can never be
   * presented again.
   */
  @Override
  public boolean nonceUsed(PublicKey account, long nonce) {
    Objects.requireNonNull(account, "account");
    long nowSecond = clock.instant().getEpochSecond();
    return readWithJournal(txn -> {
      ByteBuffer value = nonces.get(txn, nonceKey(account, nonce));
      if (value != null && value.getLong(value.position()) > nowSecond) {
        return true;
      }
      Settlement pending = journal.row(account, nonce, SettlementJournal.appliedSeq(environment, txn));
      return pending != null && pending.expiry().getEpochSecond() > nowSecond;
    });
  }

  @Override
  public List<Settlement> settlements(PublicKey account) {
    Objects.requireNonNull(account, "account");
    long nowSecond = clock.instant().getEpochSecond();
    byte[] prefix = account.toByteArray();
    return readWithJournal(txn -> {
      // In the nonces database's order: the nonce's 8 bytes big-endian, unsigned.
      Map<Long, Settlement> byNonce = new TreeMap<>(Long::compareUnsigned);
      try (CursorIterable<ByteBuffer> cursor = nonces.iterate(txn, KeyRange.atLeast(Layout.direct(prefix)))) {
        for (KeyVal<ByteBuffer> entry : cursor) {
          if (!Layout.startsWith(entry.key(), prefix)) {
            break;
          }
          long nonce = entry.key().getLong(entry.key().position() + PublicKey.LENGTH);
          Settlement settled = settlementOrNull(account, nonce, entry.val());
          if (settled != null && settled.expiry().getEpochSecond() > nowSecond) {
            byNonce.put(nonce, settled); // else a nonce used before settlements were kept, or one already expired
          }
        }
      }
      for (Settlement pending : journal.pending(account, SettlementJournal.appliedSeq(environment, txn))) {
        if (pending.expiry().getEpochSecond() > nowSecond) {
          Settlement row = byNonce.get(pending.nonce());
          Settlement merged = row == null ? pending : accumulatedOrNull(row, pending);
          byNonce.put(pending.nonce(), merged == null ? row : merged);
        }
      }
      return List.copyOf(byNonce.values());
    });
  }

  /** Reads the ledger's databases and the journal as of one moment: under the journal's monitor, one read transaction. */
  private <T> T readWithJournal(Function<Txn<ByteBuffer>, T> work) {
    synchronized (journal) {
      return environment.read(work);
    }
  }

  /** Under the journal's monitor: the costs of the account's journaled settlements not applied as of {@code txn}. */
  private long pendingCost(Txn<ByteBuffer> txn, PublicKey account) {
    return journal.pendingUnits(account, SettlementJournal.appliedSeq(environment, txn));
  }

  /** How many used nonces are kept now, after dropping those whose withdrawals have expired. */
  public long usedNonceCount() {
    flush();
    long nowSecond = clock.instant().getEpochSecond();
    return environment.write(txn -> {
      prune(environment, txn, nowSecond);
      return nonces.stat(txn).entries;
    });
  }

  /** Drops every nonce whose withdrawal expired at or before {@code nowSecond}: it is refused as expired. */
  private static void prune(LmdbEnvironment environment, Txn<ByteBuffer> txn, long nowSecond) {
    Dbi<ByteBuffer> nonces = environment.dbi(DB_NONCES);
    try (Cursor<ByteBuffer> cursor = environment.dbi(DB_NONCE_EXPIRY).openCursor(txn)) {
      while (cursor.first()) {
        ByteBuffer key = cursor.key().duplicate();
        long expirySecond = key.getLong();
        if (expirySecond > nowSecond) {
          break;
        }
        byte[] rest = new byte[key.remaining()];
        key.get(rest);
        cursor.delete();
        nonces.delete(txn, Layout.direct(rest));
      }
    }
  }

  /**
   * Writes {@code settlement} inside {@code txn}, a write transaction of {@code environment}: first drops
   * the nonces expired by {@code nowSecond}, then refuses (SETTLEMENT_REFUSED, naming the rule as
   * pricing's reason does) a withdrawal's nonce still used, a session program's nonce used by a
   * withdrawal, or a cost above the balance; else takes the cost, keeps the nonce with its program and
   * cost until the expiry (a session's row adds the cost and the program to its totals and keeps its
   * expiry) and makes the program the account's last.
   */
  static void settle(LmdbEnvironment environment, Txn<ByteBuffer> txn, Settlement settlement, long nowSecond)
      throws StorageException {
    prune(environment, txn, nowSecond);
    Dbi<ByteBuffer> accounts = environment.dbi(DB_ACCOUNTS);
    Dbi<ByteBuffer> nonces = environment.dbi(DB_NONCES);
    PublicKey account = settlement.account();
    ByteBuffer nonceKey = nonceKey(account, settlement.nonce());
    ByteBuffer stored = nonces.get(txn, nonceKey);
    Settlement row = stored == null ? null : settlementOrNull(account, settlement.nonce(), stored);
    Entry entry = entry(accounts, txn, account);
    PricingException refused = refusalOrNull(settlement, stored != null, row, entry.balance());
    if (refused != null) {
      throw new StorageException(Reason.SETTLEMENT_REFUSED, String.valueOf(refused.getMessage()));
    }
    Settlement written = row == null ? settlement : Objects.requireNonNull(accumulatedOrNull(row, settlement));
    put(accounts, txn, account, new Entry(entry.balance() - settlement.cost().units(), settlement.programId()));
    long expirySecond = written.expiry().getEpochSecond();
    boolean session = written.kind() == Settlement.Kind.SESSION;
    ByteBuffer value = ByteBuffer.allocateDirect(session ? SESSION_BYTES : SETTLED_BYTES);
    value.putLong(expirySecond).put(written.programId().toByteArray()).putLong(written.cost().units());
    if (session) {
      value.put(KIND_SESSION).putInt(written.programs());
    }
    nonces.put(txn, nonceKey, value.flip());
    if (row == null) { // a session's row keeps the expiry it was created with, and its one expiry entry
      environment.dbi(DB_NONCE_EXPIRY).put(txn, expiryKey(expirySecond, account, settlement.nonce()), Layout.empty());
    }
  }

  /**
   * Why {@code settlement} may not be written, or null when it may: against its nonce ({@code used}, and
   * {@code row}, the settlement kept under it when it names one) and the account's {@code balance}. The one
   * rule of a transaction's {@link #settle(LmdbEnvironment, Txn, Settlement, long)} and of the journal's
   * check: a withdrawal's nonce is used once, a session's is not a withdrawal's, the cost is within the
   * balance, and a session's row does not overflow.
   */
  private static @Nullable PricingException refusalOrNull(Settlement settlement, boolean used,
      @Nullable Settlement row, long balance) {
    PublicKey account = settlement.account();
    boolean sessionRow = row != null && row.kind() == Settlement.Kind.SESSION;
    if (used && (settlement.kind() == Settlement.Kind.WITHDRAWAL || !sessionRow)) {
      return new PricingException(PricingException.Reason.REPLAYED_NONCE, "account " + account
          + " already used nonce " + settlement.nonce() + (sessionRow ? " for a session" : " for a withdrawal"));
    }
    if (settlement.cost().units() > balance) {
      return new PricingException(PricingException.Reason.INSUFFICIENT_BALANCE, "account " + account + " holds "
          + balance + " units, program " + settlement.programId() + " cost " + settlement.cost().units());
    }
    if (row != null && accumulatedOrNull(row, settlement) == null) {
      return new PricingException(PricingException.Reason.LIMIT_EXCEEDED, "session nonce " + row.nonce() + " of "
          + account + " has settled " + row.programs() + " programs costing " + row.cost().units()
          + " units; adding " + settlement.cost().units() + " more overflows its row");
    }
    return null;
  }

  /** A session's row after one more of its programs settled (its totals grown, that program the last), or null when they overflow. */
  private static @Nullable Settlement accumulatedOrNull(Settlement row, Settlement settlement) {
    try {
      return new Settlement(row.account(), row.nonce(), row.expiry(), settlement.programId(),
          Amount.of(Math.addExact(row.cost().units(), settlement.cost().units())), Settlement.Kind.SESSION,
          Math.addExact(row.programs(), settlement.programs()));
    } catch (ArithmeticException e) {
      return null;
    }
  }

  /**
   * The settlement that a value of the nonces database keeps: 48 bytes a withdrawal's, 53 a session's; null for the
   * 8 bytes (an expiry alone) an older host wrote. Ignores expiry: callers check it.
   */
  private static @Nullable Settlement settlementOrNull(PublicKey account, long nonce, ByteBuffer stored) {
    ByteBuffer value = stored.duplicate();
    int length = value.remaining();
    if (length == Long.BYTES) {
      return null;
    }
    if (length != SETTLED_BYTES && length != SESSION_BYTES) {
      throw new StorageCorruptionException("database " + DB_NONCES + ", account " + account.toHex() + " nonce "
          + nonce + ": value is " + length + " bytes, not 8, " + SETTLED_BYTES + " or " + SESSION_BYTES);
    }
    long expiry = value.getLong();
    byte[] program = new byte[Hash.LENGTH];
    value.get(program);
    long cost = value.getLong();
    if (expiry < 0 || cost < 0) {
      throw new StorageCorruptionException("database " + DB_NONCES + ", account " + account.toHex() + " nonce "
          + nonce + ": negative expiry " + expiry + " or cost " + cost);
    }
    if (length == SETTLED_BYTES) {
      return new Settlement(account, nonce, Instant.ofEpochSecond(expiry), Hash.copyOf(program), Amount.of(cost));
    }
    byte kind = value.get();
    int programs = value.getInt();
    if (kind != KIND_SESSION || programs < 1) {
      throw new StorageCorruptionException("database " + DB_NONCES + ", account " + account.toHex() + " nonce "
          + nonce + ": a 53-byte value has kind " + kind + " and " + programs + " programs, not a session's (1) of"
          + " at least 1");
    }
    return new Settlement(account, nonce, Instant.ofEpochSecond(expiry), Hash.copyOf(program), Amount.of(cost),
        Settlement.Kind.SESSION, programs);
  }

  /**
   * Adds {@code amount} to {@code account} inside {@code txn} without naming a program (the account's
   * last program stays): storage given back when payloads are dropped under a retention policy.
   * Refused only if the balance would overflow.
   */
  static void creditStorage(LmdbEnvironment environment, Txn<ByteBuffer> txn, PublicKey account, Amount amount)
      throws StorageException {
    Dbi<ByteBuffer> accounts = environment.dbi(DB_ACCOUNTS);
    Entry entry = entry(accounts, txn, account);
    long after;
    try {
      after = Amount.of(entry.balance()).plus(amount).units();
    } catch (AmountOverflowException e) {
      throw new StorageException(Reason.BALANCE_OVERFLOW, "crediting " + amount.units() + " units to "
          + account + " overflows its balance of " + entry.balance());
    }
    put(accounts, txn, account, new Entry(after, entry.lastProgramOrNull()));
  }

  /** An account's value: its balance and the last program settled against it, or null for none. */
  private record Entry(long balance, @Nullable Hash lastProgramOrNull) {
    static final Entry NEW = new Entry(0, null);
  }

  /**
   * The entry of {@code account} as of {@code txn}: zero and no program for an account never seen; no
   * program for a value of 8 bytes (a balance alone, as a host kept it before it recorded programs).
   */
  private static Entry entry(Dbi<ByteBuffer> accounts, Txn<ByteBuffer> txn, PublicKey account) {
    ByteBuffer stored = accounts.get(txn, accountKey(account));
    if (stored == null) {
      return Entry.NEW;
    }
    if (stored.remaining() != Long.BYTES && stored.remaining() != Long.BYTES + Hash.LENGTH) {
      throw new StorageCorruptionException("database " + DB_ACCOUNTS + ", key " + account.toHex()
          + ": value is " + stored.remaining() + " bytes, neither a balance (8) nor a balance and a program (40)");
    }
    ByteBuffer value = stored.duplicate();
    long balance = value.getLong();
    if (balance < 0) {
      throw new StorageCorruptionException("database " + DB_ACCOUNTS + ", key " + account.toHex()
          + ": negative balance " + balance);
    }
    if (!value.hasRemaining()) {
      return new Entry(balance, null);
    }
    byte[] program = new byte[Hash.LENGTH];
    value.get(program);
    return new Entry(balance, Hash.copyOf(program));
  }

  /** Writes the balance alone while the account has no last program, the balance and the program after. */
  private static void put(Dbi<ByteBuffer> accounts, Txn<ByteBuffer> txn, PublicKey account, Entry entry) {
    Hash program = entry.lastProgramOrNull();
    ByteBuffer value = ByteBuffer.allocateDirect(Long.BYTES + (program == null ? 0 : Hash.LENGTH));
    value.putLong(entry.balance());
    if (program != null) {
      value.put(program.toByteArray());
    }
    accounts.put(txn, accountKey(account), value.flip());
  }

  private static ByteBuffer accountKey(PublicKey account) {
    return Layout.direct(account.toByteArray());
  }

  private static ByteBuffer nonceKey(PublicKey account, long nonce) {
    ByteBuffer key = ByteBuffer.allocateDirect(PublicKey.LENGTH + Long.BYTES);
    key.put(account.toByteArray()).putLong(nonce).flip();
    return key;
  }

  private static ByteBuffer expiryKey(long expirySecond, PublicKey account, long nonce) {
    ByteBuffer key = ByteBuffer.allocateDirect(Long.BYTES + PublicKey.LENGTH + Long.BYTES);
    key.putLong(expirySecond).put(account.toByteArray()).putLong(nonce).flip();
    return key;
  }
}
