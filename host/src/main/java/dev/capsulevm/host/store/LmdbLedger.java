package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.AmountOverflowException;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.storage.StorageException;
import dev.capsulevm.vm.storage.StorageException.Reason;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.lmdbjava.Cursor;
import org.lmdbjava.Dbi;
import org.lmdbjava.Txn;

/**
 * The {@link Ledger} of pricing's accounts in the LMDB environment of an {@link LmdbCapsuleStorage}
 * (obtained from {@link LmdbCapsuleStorage#ledger}); it owns the ledger's databases. It has the semantics
 * of {@link dev.capsulevm.pricing.InMemoryLedger}: balances, a maximum that deposits respect and refunds may
 * exceed, nonces remembered until their withdrawal expires. Every call is one transaction (a write
 * transaction for everything but {@link #balance}), serialized with the store's commits and as durable as
 * they are, so balances and nonces survive a restart and a crash.
 *
 * <p>Layout (host/README.md): {@code accounts} maps the account key (32) to its balance (u64 big-endian)
 * followed, once a program has been settled against the account, by that last program's id (32): 8 or
 * 40 bytes, so a value written before the last program was kept (8 bytes) reads as "none";
 * {@code nonces} maps account (32) ‖ nonce (u64) to the withdrawal's expiry (epoch second, u64);
 * {@code nonce-expiry} holds the same nonces under expiry (u64) ‖ account (32) ‖ nonce (u64), so a
 * withdrawal first drops, in the same transaction, every nonce whose withdrawal has expired.
 *
 * <p>A program's refund can also arrive through a batch ({@link dev.capsulevm.vm.storage.Batch#credit}),
 * committed in the same transaction as the program's records.
 */
public final class LmdbLedger implements Ledger {
  /** Balance (u64), then the last program settled against the account (32) if any, by account public key (32). */
  static final String DB_ACCOUNTS = "accounts";
  /** Used nonces: withdrawal expiry (epoch second, u64) by account (32), nonce (u64). */
  static final String DB_NONCES = "nonces";
  /** The same nonces in expiry order, for pruning: empty values under expiry (u64), account (32), nonce (u64). */
  static final String DB_NONCE_EXPIRY = "nonce-expiry";
  /** The ledger's databases, in the order the store opens them. */
  static final List<String> DATABASES = List.of(DB_ACCOUNTS, DB_NONCES, DB_NONCE_EXPIRY);

  private final LmdbEnvironment environment;
  private final Dbi<ByteBuffer> accounts;
  private final Dbi<ByteBuffer> nonces;
  private final Dbi<ByteBuffer> nonceExpiry;
  private final Clock clock;
  private final Amount maxBalance;
  private final Duration maxExpiryAhead;

  LmdbLedger(LmdbEnvironment environment, Clock clock, Amount maxBalance, Duration maxExpiryAhead) {
    this.environment = Objects.requireNonNull(environment, "environment");
    this.accounts = environment.dbi(DB_ACCOUNTS);
    this.nonces = environment.dbi(DB_NONCES);
    this.nonceExpiry = environment.dbi(DB_NONCE_EXPIRY);
    this.clock = Objects.requireNonNull(clock, "clock");
    this.maxBalance = Objects.requireNonNull(maxBalance, "maxBalance");
    this.maxExpiryAhead = Objects.requireNonNull(maxExpiryAhead, "maxExpiryAhead");
    if (maxExpiryAhead.isNegative()) {
      throw new IllegalArgumentException("maxExpiryAhead is never negative, got " + maxExpiryAhead);
    }
  }

  @Override
  public void deposit(PublicKey account, Amount amount) throws PricingException {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    environment.update(txn -> {
      Entry entry = entry(accounts, txn, account);
      long now = entry.balance();
      // As a difference, so no sum overflows; a refund may have lifted the balance above the maximum.
      if (amount.units() > maxBalance.units() - now) {
        throw new PricingException(PricingException.Reason.BALANCE_LIMIT, "account " + account + " holds "
            + now + " units; depositing " + amount.units() + " exceeds the maximum " + maxBalance.units());
      }
      put(accounts, txn, account, new Entry(now + amount.units(), entry.lastProgramOrNull()));
    });
  }

  @Override
  public Amount balance(PublicKey account) {
    Objects.requireNonNull(account, "account");
    return Amount.of(environment.read(txn -> entry(accounts, txn, account).balance()));
  }

  @Override
  public @Nullable Hash lastProgram(PublicKey account) {
    Objects.requireNonNull(account, "account");
    return environment.read(txn -> entry(accounts, txn, account).lastProgramOrNull());
  }

  @Override
  public void withdraw(PublicKey account, Amount amount, long nonce, Instant expiry) throws PricingException {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    Objects.requireNonNull(expiry, "expiry");
    Instant now = clock.instant();
    if (!now.isBefore(expiry)) {
      throw new PricingException(PricingException.Reason.EXPIRED,
          "withdrawal expired at " + expiry + ", now is " + now);
    }
    if (expiry.isAfter(now.plus(maxExpiryAhead))) {
      throw new PricingException(PricingException.Reason.EXPIRY_TOO_FAR,
          "withdrawal expires at " + expiry + ", more than " + maxExpiryAhead + " after " + now);
    }
    environment.update(txn -> {
      prune(txn, now.getEpochSecond());
      ByteBuffer nonceKey = nonceKey(account, nonce);
      if (nonces.get(txn, nonceKey) != null) {
        throw new PricingException(PricingException.Reason.REPLAYED_NONCE,
            "account " + account + " already used nonce " + nonce);
      }
      Entry entry = entry(accounts, txn, account);
      long balance = entry.balance();
      if (amount.units() > balance) {
        throw new PricingException(PricingException.Reason.INSUFFICIENT_BALANCE, "account " + account
            + " holds " + balance + " units, the withdrawal asks for " + amount.units());
      }
      put(accounts, txn, account, new Entry(balance - amount.units(), entry.lastProgramOrNull()));
      long expirySecond = expiry.getEpochSecond();
      nonces.put(txn, nonceKey, longValue(expirySecond));
      nonceExpiry.put(txn, expiryKey(expirySecond, account, nonce), Layout.empty());
    });
  }

  /** Never refused for the balance it reaches; only an overflow of the balance (2^63 units) throws. */
  @Override
  public void refund(PublicKey account, Amount amount, Hash programId) {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    Objects.requireNonNull(programId, "programId");
    try {
      environment.update(txn -> {
        credit(environment, txn, account, amount, programId);
      });
    } catch (StorageException e) {
      throw new ArithmeticException(e.getMessage());
    }
  }

  /** How many used nonces are kept now, after dropping those whose withdrawals have expired. */
  public long usedNonceCount() {
    long nowSecond = clock.instant().getEpochSecond();
    return environment.write(txn -> {
      prune(txn, nowSecond);
      return nonces.stat(txn).entries;
    });
  }

  /** Drops every nonce whose withdrawal expired at or before {@code nowSecond}: it is refused as expired. */
  private void prune(Txn<ByteBuffer> txn, long nowSecond) {
    try (Cursor<ByteBuffer> cursor = nonceExpiry.openCursor(txn)) {
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
   * Adds program {@code programId}'s refund {@code amount} to {@code account} inside {@code txn}, a write
   * transaction of {@code environment}, and records the program as the account's last: a refund, and a
   * batch's credit committed with its records. Refused only if the balance would overflow.
   */
  static void credit(LmdbEnvironment environment, Txn<ByteBuffer> txn, PublicKey account, Amount amount,
      Hash programId) throws StorageException {
    Dbi<ByteBuffer> accounts = environment.dbi(DB_ACCOUNTS);
    long before = entry(accounts, txn, account).balance();
    long after;
    try {
      after = Amount.of(before).plus(amount).units();
    } catch (AmountOverflowException e) {
      throw new StorageException(Reason.BALANCE_OVERFLOW, "crediting " + amount.units() + " units to "
          + account + " overflows its balance of " + before);
    }
    put(accounts, txn, account, new Entry(after, programId));
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

  private static ByteBuffer longValue(long value) {
    ByteBuffer out = ByteBuffer.allocateDirect(Long.BYTES);
    out.putLong(value).flip();
    return out;
  }
}
