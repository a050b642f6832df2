package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.vm.storage.StorageException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import org.lmdbjava.Cursor;
import org.lmdbjava.Txn;

/**
 * The {@link Ledger} of pricing's accounts in the LMDB environment of an {@link LmdbCapsuleStorage}
 * (obtained from {@link LmdbCapsuleStorage#ledger}), with the semantics of
 * {@link dev.capsulevm.pricing.InMemoryLedger}: balances, a maximum that deposits respect and refunds may
 * exceed, nonces remembered until their withdrawal expires. Every call is one transaction (a write
 * transaction for everything but {@link #balance}), serialized with the store's commits and as durable as
 * they are, so balances and nonces survive a restart and a crash.
 *
 * <p>Layout (host/README.md): {@code accounts} maps the account key (32) to its balance (u64 big-endian);
 * {@code nonces} maps account (32) ‖ nonce (u64) to the withdrawal's expiry (epoch second, u64);
 * {@code nonce-expiry} holds the same nonces under expiry (u64) ‖ account (32) ‖ nonce (u64), so a
 * withdrawal first drops, in the same transaction, every nonce whose withdrawal has expired.
 *
 * <p>A program's refund can also arrive through a batch ({@link dev.capsulevm.vm.storage.Batch#credit}),
 * committed in the same transaction as the program's records.
 */
public final class LmdbLedger implements Ledger {
  private final LmdbCapsuleStorage store;
  private final Clock clock;
  private final Amount maxBalance;
  private final Duration maxExpiryAhead;

  LmdbLedger(LmdbCapsuleStorage store, Clock clock, Amount maxBalance, Duration maxExpiryAhead) {
    this.store = Objects.requireNonNull(store, "store");
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
    store.write(txn -> {
      long now = store.balance(txn, account);
      // As a difference, so no sum overflows; a refund may have lifted the balance above the maximum.
      if (amount.units() > maxBalance.units() - now) {
        throw new PricingException(PricingException.Reason.BALANCE_LIMIT, "account " + account + " holds "
            + now + " units; depositing " + amount.units() + " exceeds the maximum " + maxBalance.units());
      }
      store.setBalance(txn, account, now + amount.units());
      return null;
    });
  }

  @Override
  public Amount balance(PublicKey account) {
    Objects.requireNonNull(account, "account");
    return Amount.of(store.read(txn -> store.balance(txn, account)));
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
    store.write(txn -> {
      prune(txn, now.getEpochSecond());
      ByteBuffer nonceKey = nonceKey(account, nonce);
      if (store.nonces.get(txn, nonceKey) != null) {
        throw new PricingException(PricingException.Reason.REPLAYED_NONCE,
            "account " + account + " already used nonce " + nonce);
      }
      long balance = store.balance(txn, account);
      if (amount.units() > balance) {
        throw new PricingException(PricingException.Reason.INSUFFICIENT_BALANCE, "account " + account
            + " holds " + balance + " units, the withdrawal asks for " + amount.units());
      }
      store.setBalance(txn, account, balance - amount.units());
      long expirySecond = expiry.getEpochSecond();
      store.nonces.put(txn, nonceKey, longValue(expirySecond));
      store.nonceExpiry.put(txn, expiryKey(expirySecond, account, nonce), ByteBuffer.allocateDirect(0));
      return null;
    });
  }

  /** Never refused for the balance it reaches; only an overflow of the balance (2^63 units) throws. */
  @Override
  public void refund(PublicKey account, Amount amount) {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    try {
      store.write(txn -> {
        store.credit(txn, account, amount);
        return null;
      });
    } catch (StorageException e) {
      throw new ArithmeticException(e.getMessage());
    }
  }

  /** How many used nonces are kept now, after dropping those whose withdrawals have expired. */
  public long usedNonceCount() {
    long nowSecond = clock.instant().getEpochSecond();
    return store.write(txn -> {
      prune(txn, nowSecond);
      return store.nonces.stat(txn).entries;
    });
  }

  /** Drops every nonce whose withdrawal expired at or before {@code nowSecond}: it is refused as expired. */
  private void prune(Txn<ByteBuffer> txn, long nowSecond) {
    try (Cursor<ByteBuffer> cursor = store.nonceExpiry.openCursor(txn)) {
      while (cursor.first()) {
        ByteBuffer key = cursor.key().duplicate();
        long expirySecond = key.getLong();
        if (expirySecond > nowSecond) {
          break;
        }
        byte[] rest = new byte[key.remaining()];
        key.get(rest);
        cursor.delete();
        store.nonces.delete(txn, direct(rest));
      }
    }
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

  private static ByteBuffer direct(byte[] bytes) {
    ByteBuffer out = ByteBuffer.allocateDirect(bytes.length);
    out.put(bytes).flip();
    return out;
  }
}
