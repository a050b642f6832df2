package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * A thread-safe {@link Ledger} held in memory, with {@link #snapshot()} and {@link #restore} so its
 * balances and settlements survive a restart.
 *
 * <p>Replay protection with bounded memory: a settled withdrawal's nonce (a session's, with its totals) is
 * kept until the withdrawal (session) expires; expired withdrawals are refused anyway ({@link Reservations}), and expiries further ahead than
 * the host's window are refused, so the nonces kept never outgrow what can be spent within that window.
 */
public final class InMemoryLedger implements Ledger {
  /**
   * Version 2 added each account's last program; version 3 each settlement's program id and cost;
   * version 4 each settlement's kind and program count.
   */
  private static final int SNAPSHOT_VERSION = 4;
  private static final int ACCOUNT_BYTES = PublicKey.LENGTH + 8 + Hash.LENGTH;
  private static final int NONCE_BYTES_V2 = PublicKey.LENGTH + 8 + 8;
  private static final int NONCE_BYTES_V3 = NONCE_BYTES_V2 + Hash.LENGTH + 8;
  private static final int NONCE_BYTES = NONCE_BYTES_V3 + 1 + 4;
  /** The kind byte of a snapshot's nonce row: a withdrawal's settlement. */
  private static final int KIND_WITHDRAWAL = 0;
  /** The kind byte of a snapshot's nonce row: a session's accumulated settlement. */
  private static final int KIND_SESSION = 1;

  /**
   * A used nonce: its settlement (a session's with its totals), or only its expiry for a withdrawal's
   * nonce restored from a version 2 snapshot.
   */
  private record UsedNonce(PublicKey account, long nonce, long expiryEpochSecond, @Nullable Hash programIdOrNull,
      long cost, Settlement.Kind kind, int programs) {
    @Nullable Settlement settlementOrNull() {
      Hash program = programIdOrNull;
      return program == null ? null : new Settlement(account, nonce, Instant.ofEpochSecond(expiryEpochSecond),
          program, Amount.of(cost), kind, programs);
    }

    NonceKey key() {
      return new NonceKey(account, nonce);
    }
  }

  private record NonceKey(PublicKey account, long nonce) {}

  private final Clock clock;
  private final Amount maxBalance;
  // One lock for everything: a settlement must check the nonce and the balance as one step, and the work
  // under the lock is a few map operations.
  private final Object lock = new Object();
  private final Map<PublicKey, Long> balances = new HashMap<>();
  private final Map<PublicKey, Hash> lastPrograms = new HashMap<>();
  private final Map<NonceKey, UsedNonce> used = new HashMap<>();
  private final PriorityQueue<UsedNonce> byExpiry =
      new PriorityQueue<>(Comparator.comparingLong(UsedNonce::expiryEpochSecond));

  /**
   * An empty ledger that reads time from {@code clock} (nonces are forgotten once their withdrawal has
   * expired) and refuses deposits above {@code maxBalance} (the price table's {@link Limits#maxBalance()}).
   */
  public InMemoryLedger(Clock clock, Amount maxBalance) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.maxBalance = Objects.requireNonNull(maxBalance, "maxBalance");
  }

  @Override
  public void deposit(PublicKey account, Amount amount) throws PricingException {
    Objects.requireNonNull(account, "account");
    synchronized (lock) {
      long now = balances.getOrDefault(account, 0L);
      // Compared as a difference so that no sum can overflow; a credit may have lifted now above the maximum.
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
  public void settle(Settlement settlement) throws PricingException {
    settleAll(List.of(settlement));
  }

  /**
   * Settles every one of {@code settlements} in order or, when any is refused ({@link #settle}'s reasons,
   * counting the ones before it in the list), none: a store commits a batch's settlements with it this
   * way. Programs of one session in the same list add up in its row.
   */
  public void settleAll(List<Settlement> settlements) throws PricingException {
    synchronized (lock) {
      prune(clock.instant());
      Map<PublicKey, Long> after = new HashMap<>();
      // The rows as they will be, staged so that a refusal changes nothing.
      Map<NonceKey, UsedNonce> rows = new HashMap<>();
      for (Settlement s : settlements) {
        NonceKey key = new NonceKey(s.account(), s.nonce());
        UsedNonce row = rows.containsKey(key) ? rows.get(key) : used.get(key);
        if (row != null && (s.kind() == Settlement.Kind.WITHDRAWAL || row.kind() == Settlement.Kind.WITHDRAWAL)) {
          throw new PricingException(PricingException.Reason.REPLAYED_NONCE, "account " + s.account()
              + " already used nonce " + s.nonce() + (row.kind() == Settlement.Kind.WITHDRAWAL ? " for a withdrawal"
              : " for a session"));
        }
        long balance = after.computeIfAbsent(s.account(), a -> balances.getOrDefault(a, 0L));
        if (s.cost().units() > balance) {
          throw new PricingException(PricingException.Reason.INSUFFICIENT_BALANCE, "account " + s.account()
              + " holds " + balance + " units, the program " + s.programId() + " cost " + s.cost().units());
        }
        after.put(s.account(), balance - s.cost().units());
        rows.put(key, row == null ? new UsedNonce(s.account(), s.nonce(), s.expiry().getEpochSecond(), s.programId(),
            s.cost().units(), s.kind(), s.programs()) : accumulated(row, s));
      }
      balances.putAll(after);
      for (UsedNonce row : rows.values()) {
        if (used.put(row.key(), row) == null) {
          byExpiry.add(row); // a session's row keeps its expiry, so it is queued once
        }
      }
      for (Settlement s : settlements) {
        lastPrograms.put(s.account(), s.programId());
      }
    }
  }

  /** A session's row after one more settlement: its costs and counts added, this program the last. */
  private static UsedNonce accumulated(UsedNonce row, Settlement s) throws PricingException {
    long cost;
    int programs;
    try {
      cost = Math.addExact(row.cost(), s.cost().units());
      programs = Math.addExact(row.programs(), s.programs());
    } catch (ArithmeticException e) {
      throw new PricingException(PricingException.Reason.LIMIT_EXCEEDED, "session nonce " + s.nonce() + " of "
          + s.account() + " has settled " + row.programs() + " programs costing " + row.cost()
          + " units; adding " + s.cost().units() + " more overflows its row");
    }
    return new UsedNonce(row.account(), row.nonce(), row.expiryEpochSecond(), s.programId(), cost, row.kind(),
        programs);
  }

  @Override
  public boolean nonceUsed(PublicKey account, long nonce) {
    synchronized (lock) {
      prune(clock.instant());
      return used.containsKey(new NonceKey(account, nonce));
    }
  }

  @Override
  public List<Settlement> settlements(PublicKey account) {
    synchronized (lock) {
      prune(clock.instant());
      List<Settlement> out = new ArrayList<>();
      for (UsedNonce n : used.values()) {
        Settlement s = n.account().equals(account) ? n.settlementOrNull() : null;
        if (s != null) {
          out.add(s);
        }
      }
      out.sort(Comparator.comparingLong(Settlement::nonce));
      return out;
    }
  }

  /**
   * Adds {@code amount} to the account without naming a program (its last program stays): storage the
   * host gives back when it drops payloads under a retention policy. Never refused for the balance it
   * reaches: the host owes it.
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
      UsedNonce current = used.get(gone.key());
      // The queue holds a session's row as first written; its later totals share its expiry.
      if (current != null && current.expiryEpochSecond() == gone.expiryEpochSecond()) {
        used.remove(gone.key());
      }
    }
  }

  /**
   * The whole state as bytes (docs/FORMAT.md, "Ledger snapshot"): version 4 (1 byte); account count (4);
   * per account in key order its key (32), balance (8) and last program id (32, zeros for none);
   * used-nonce count (4); per nonce its account (32), nonce (8), expiry (8), program id (32, zeros when
   * unknown), cost (8), kind (1: 0 withdrawal, 1 session) and program count (4). Budgets held for
   * programs in flight and sessions' remainders are not part of it: a restart drops them.
   */
  public byte[] snapshot() {
    synchronized (lock) {
      prune(clock.instant());
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeByte(SNAPSHOT_VERSION);
        TreeMap<PublicKey, Long> sorted = new TreeMap<>(balances);
        for (PublicKey withProgram : lastPrograms.keySet()) {
          sorted.putIfAbsent(withProgram, 0L);
        }
        out.writeInt(sorted.size());
        for (Map.Entry<PublicKey, Long> e : sorted.entrySet()) {
          out.write(e.getKey().toByteArray());
          out.writeLong(e.getValue());
          Hash last = lastPrograms.get(e.getKey());
          out.write(last == null ? new byte[Hash.LENGTH] : last.toByteArray());
        }
        List<UsedNonce> nonces = new ArrayList<>(used.values());
        nonces.sort(Comparator.comparingLong(UsedNonce::expiryEpochSecond)
            .thenComparing(UsedNonce::account).thenComparingLong(UsedNonce::nonce));
        out.writeInt(nonces.size());
        for (UsedNonce n : nonces) {
          out.write(n.account().toByteArray());
          out.writeLong(n.nonce());
          out.writeLong(n.expiryEpochSecond());
          Hash program = n.programIdOrNull();
          out.write(program == null ? new byte[Hash.LENGTH] : program.toByteArray());
          out.writeLong(n.cost());
          out.writeByte(n.kind() == Settlement.Kind.SESSION ? KIND_SESSION : KIND_WITHDRAWAL);
          out.writeInt(n.programs());
        }
        out.flush();
        return bytes.toByteArray();
      } catch (IOException e) {
        throw new IllegalStateException("writing to memory cannot fail", e);
      }
    }
  }

  /**
   * A ledger holding the state of {@code snapshot} (version 4; version 3, whose nonces are withdrawals of
   * one program; or version 2, whose nonces are withdrawals naming no program), with the given clock and
   * maximum balance.
   */
  public static InMemoryLedger restore(byte[] snapshot, Clock clock, Amount maxBalance) throws VerificationException {
    InMemoryLedger ledger = new InMemoryLedger(clock, maxBalance);
    ByteBuffer in = ByteBuffer.wrap(snapshot);
    try {
      int version = in.get() & 0xff;
      if (version < 2 || version > SNAPSHOT_VERSION) {
        throw Codec.malformed("ledger snapshot version is " + version + ", not 2 to " + SNAPSHOT_VERSION);
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
        Hash lastProgram = readHashOrNull(in);
        if (lastProgram != null) {
          ledger.lastPrograms.put(key, lastProgram);
        }
      }
      int nonces = in.getInt();
      int nonceBytes = version == 2 ? NONCE_BYTES_V2 : version == 3 ? NONCE_BYTES_V3 : NONCE_BYTES;
      if (nonces < 0 || nonces > in.remaining() / nonceBytes) {
        throw Codec.malformed("ledger snapshot claims " + nonces + " nonces");
      }
      for (int i = 0; i < nonces; i++) {
        PublicKey key = readKey(in);
        long nonce = in.getLong();
        long expiry = in.getLong();
        Hash program = version == 2 ? null : readHashOrNull(in);
        long cost = version == 2 ? 0 : in.getLong();
        if (cost < 0) {
          throw Codec.malformed("ledger snapshot has a negative cost for nonce " + nonce + " of " + key);
        }
        int kindByte = version < 4 ? KIND_WITHDRAWAL : in.get() & 0xff;
        int programs = version < 4 ? 1 : in.getInt();
        if (kindByte != KIND_WITHDRAWAL && kindByte != KIND_SESSION) {
          throw Codec.malformed("ledger snapshot has kind " + kindByte + " for nonce " + nonce + " of " + key
              + ", not 0 (withdrawal) or 1 (session)");
        }
        Settlement.Kind kind = kindByte == KIND_SESSION ? Settlement.Kind.SESSION : Settlement.Kind.WITHDRAWAL;
        if (programs < 1 || (kind == Settlement.Kind.WITHDRAWAL && programs != 1)
            || (kind == Settlement.Kind.SESSION && program == null)) {
          throw Codec.malformed("ledger snapshot has a " + kind + " row for nonce " + nonce + " of " + key
              + " covering " + programs + " programs" + (program == null ? " and naming none" : ""));
        }
        UsedNonce entry = new UsedNonce(key, nonce, expiry, program, cost, kind, programs);
        if (ledger.used.put(new NonceKey(key, nonce), entry) != null) {
          throw Codec.malformed("ledger snapshot repeats nonce " + nonce + " of " + key);
        }
        ledger.byExpiry.add(entry);
      }
      if (in.hasRemaining()) {
        throw Codec.malformed("ledger snapshot has " + in.remaining() + " trailing bytes");
      }
    } catch (java.nio.BufferUnderflowException e) {
      throw Codec.malformed("ledger snapshot is truncated");
    }
    return ledger;
  }

  private static @Nullable Hash readHashOrNull(ByteBuffer in) {
    byte[] bytes = new byte[Hash.LENGTH];
    in.get(bytes);
    Hash hash = Hash.copyOf(bytes);
    return Codec.isZero(hash) ? null : hash;
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
