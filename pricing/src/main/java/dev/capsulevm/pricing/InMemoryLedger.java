package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * A thread-safe {@link Ledger} held in memory, with {@link #snapshot()} and {@link #restore} so its
 * balances and used nonces survive a restart.
 *
 * <p>Replay protection with bounded memory: a nonce is kept until its withdrawal expires, withdrawals
 * that have expired are refused anyway, and expiries further ahead than {@code maxExpiryAhead} are
 * refused, so the set of kept nonces never outgrows what can be spent within that window.
 */
public final class InMemoryLedger implements Ledger {
  /** Version 2 added each account's last program. */
  private static final int SNAPSHOT_VERSION = 2;
  private static final int ACCOUNT_BYTES = PublicKey.LENGTH + 8 + Hash.LENGTH;

  private record UsedNonce(PublicKey account, long nonce, long expiryEpochSecond) {}

  private record NonceKey(PublicKey account, long nonce) {}

  private final Clock clock;
  private final Amount maxBalance;
  private final Duration maxExpiryAhead;
  // One lock for everything: a withdrawal must check the nonce and the balance as one step, and the
  // work under the lock is a few map operations, far cheaper than the signature check done before it.
  private final Object lock = new Object();
  private final Map<PublicKey, Long> balances = new HashMap<>();
  private final Map<PublicKey, Hash> lastPrograms = new HashMap<>();
  private final Set<NonceKey> used = new HashSet<>();
  private final PriorityQueue<UsedNonce> byExpiry =
      new PriorityQueue<>(Comparator.comparingLong(UsedNonce::expiryEpochSecond));

  /**
   * An empty ledger that reads time from {@code clock}, refuses deposits above {@code maxBalance}
   * (the price table's {@link Limits#maxBalance()}) and withdrawals expiring more than
   * {@code maxExpiryAhead} from now.
   */
  public InMemoryLedger(Clock clock, Amount maxBalance, Duration maxExpiryAhead) {
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
    synchronized (lock) {
      long now = balances.getOrDefault(account, 0L);
      // Compared as a difference so that no sum can overflow; a refund may have lifted now above the maximum.
      if (amount.units() > maxBalance.units() - now) {
        throw new PricingException(PricingException.Reason.BALANCE_LIMIT, "account " + account + " holds "
            + now + " units; depositing " + amount.units() + " exceeds the maximum " + maxBalance.units());
      }
      long after = now + amount.units();
      balances.put(account, after);
    }
  }

  @Override
  public Amount balance(PublicKey account) {
    synchronized (lock) {
      return Amount.of(balances.getOrDefault(account, 0L));
    }
  }

  @Override
  public void withdraw(PublicKey account, Amount amount, long nonce, Instant expiry) throws PricingException {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    Instant now = clock.instant();
    if (!now.isBefore(expiry)) {
      throw new PricingException(PricingException.Reason.EXPIRED,
          "withdrawal expired at " + expiry + ", now is " + now);
    }
    if (expiry.isAfter(now.plus(maxExpiryAhead))) {
      throw new PricingException(PricingException.Reason.EXPIRY_TOO_FAR,
          "withdrawal expires at " + expiry + ", more than " + maxExpiryAhead + " after " + now);
    }
    synchronized (lock) {
      prune(now);
      NonceKey key = new NonceKey(account, nonce);
      if (used.contains(key)) {
        throw new PricingException(PricingException.Reason.REPLAYED_NONCE,
            "account " + account + " already used nonce " + nonce);
      }
      long balance = balances.getOrDefault(account, 0L);
      if (amount.units() > balance) {
        throw new PricingException(PricingException.Reason.INSUFFICIENT_BALANCE, "account " + account
            + " holds " + balance + " units, the withdrawal asks for " + amount.units());
      }
      balances.put(account, balance - amount.units());
      used.add(key);
      byExpiry.add(new UsedNonce(account, nonce, expiry.getEpochSecond()));
    }
  }

  @Override
  public void refund(PublicKey account, Amount amount, Hash programId) {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(programId, "programId");
    synchronized (lock) {
      balances.merge(account, amount.units(), Amount::add);
      lastPrograms.put(account, programId);
    }
  }

  /**
   * Adds {@code amount} to the account without naming a program (its last program stays): storage the
   * host gives back when it drops payloads under a retention policy. Never refused for the balance it
   * reaches, like a refund.
   */
  public void credit(PublicKey account, Amount amount) {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    synchronized (lock) {
      balances.merge(account, amount.units(), Amount::add);
    }
  }

  @Override
  public @Nullable Hash lastProgram(PublicKey account) {
    synchronized (lock) {
      return lastPrograms.get(account);
    }
  }

  /** How many used nonces are kept now, after dropping those whose withdrawals have expired. */
  public int usedNonceCount() {
    synchronized (lock) {
      prune(clock.instant());
      return used.size();
    }
  }

  private void prune(Instant now) {
    long nowSecond = now.getEpochSecond();
    // A withdrawal is refused once now >= expiry, so its nonce can no longer be replayed and is dropped.
    while (!byExpiry.isEmpty() && byExpiry.peek().expiryEpochSecond() <= nowSecond) {
      UsedNonce gone = byExpiry.poll();
      used.remove(new NonceKey(gone.account(), gone.nonce()));
    }
  }

  /**
   * The whole state as bytes (docs/FORMAT.md, "Ledger snapshot"): version 2 (1 byte); account count (4);
   * per account in key order its key (32), balance (8) and last program id (32, zeros for none);
   * used-nonce count (4); per nonce its account (32), nonce (8) and expiry (8).
   */
  public byte[] snapshot() {
    synchronized (lock) {
      prune(clock.instant());
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeByte(SNAPSHOT_VERSION);
        TreeMap<PublicKey, Long> sorted = new TreeMap<>(balances);
        out.writeInt(sorted.size());
        for (Map.Entry<PublicKey, Long> e : sorted.entrySet()) {
          out.write(e.getKey().toByteArray());
          out.writeLong(e.getValue());
          Hash last = lastPrograms.get(e.getKey());
          out.write(last == null ? new byte[Hash.LENGTH] : last.toByteArray());
        }
        List<UsedNonce> nonces = new ArrayList<>(byExpiry);
        nonces.sort(Comparator.comparingLong(UsedNonce::expiryEpochSecond)
            .thenComparing(UsedNonce::account).thenComparingLong(UsedNonce::nonce));
        out.writeInt(nonces.size());
        for (UsedNonce n : nonces) {
          out.write(n.account().toByteArray());
          out.writeLong(n.nonce());
          out.writeLong(n.expiryEpochSecond());
        }
        out.flush();
        return bytes.toByteArray();
      } catch (IOException e) {
        throw new IllegalStateException("writing to memory cannot fail", e);
      }
    }
  }

  /** A ledger holding the state of {@code snapshot}, with the given clock and limits. */
  public static InMemoryLedger restore(byte[] snapshot, Clock clock, Amount maxBalance, Duration maxExpiryAhead)
      throws VerificationException {
    InMemoryLedger ledger = new InMemoryLedger(clock, maxBalance, maxExpiryAhead);
    ByteBuffer in = ByteBuffer.wrap(snapshot);
    try {
      if ((in.get() & 0xff) != SNAPSHOT_VERSION) {
        throw Codec.malformed("ledger snapshot version is not " + SNAPSHOT_VERSION);
      }
      int accounts = in.getInt();
      if (accounts < 0 || accounts > in.remaining() / ACCOUNT_BYTES) {
        throw Codec.malformed("ledger snapshot claims " + accounts + " accounts");
      }
      for (int i = 0; i < accounts; i++) {
        PublicKey key = readKey(in);
        long balance = in.getLong();
        if (balance < 0 || ledger.balances.put(key, balance) != null) {
          throw Codec.malformed("ledger snapshot has a negative or repeated balance for " + key);
        }
        byte[] last = new byte[Hash.LENGTH];
        in.get(last);
        Hash lastProgram = Hash.copyOf(last);
        if (!Codec.isZero(lastProgram)) {
          ledger.lastPrograms.put(key, lastProgram);
        }
      }
      int nonces = in.getInt();
      if (nonces < 0 || nonces > in.remaining() / 48) {
        throw Codec.malformed("ledger snapshot claims " + nonces + " nonces");
      }
      for (int i = 0; i < nonces; i++) {
        PublicKey key = readKey(in);
        long nonce = in.getLong();
        long expiry = in.getLong();
        if (!ledger.used.add(new NonceKey(key, nonce))) {
          throw Codec.malformed("ledger snapshot repeats nonce " + nonce + " of " + key);
        }
        ledger.byExpiry.add(new UsedNonce(key, nonce, expiry));
      }
      if (in.hasRemaining()) {
        throw Codec.malformed("ledger snapshot has " + in.remaining() + " trailing bytes");
      }
    } catch (java.nio.BufferUnderflowException e) {
      throw Codec.malformed("ledger snapshot is truncated");
    }
    return ledger;
  }

  private static PublicKey readKey(ByteBuffer in) throws VerificationException {
    byte[] b = new byte[PublicKey.LENGTH];
    in.get(b);
    try {
      return PublicKey.copyOf(b);
    } catch (IllegalArgumentException e) {
      throw Codec.malformed("ledger snapshot holds a bad account key");
    }
  }
}
