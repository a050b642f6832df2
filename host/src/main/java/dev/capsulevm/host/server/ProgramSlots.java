package dev.capsulevm.host.server;

import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The host's program slots, counted per account: who may start one more program. A program holds its
 * slot from admission to its end, so a slot costs what it occupies (docs/PROTOCOL.md, "Admission").
 *
 * <p>Three rules, checked in order when an account asks for a slot:
 *
 * <ol>
 *   <li>the host runs fewer than {@code limit} programs ({@code maxConcurrentPrograms});
 *   <li>the account runs fewer than {@code perAccount} ({@code maxProgramsPerAccount}), so one account
 *       never holds more than that share of the host however fast it asks;
 *   <li>an account that already runs a program may not take the last {@link #reserve(int)} free slots
 *       (a share of the host's, {@code reservedShare}): they are kept for accounts that run none. When the host fills up, a newcomer still finds a slot
 *       while the accounts that run several are refused, so every account gets its first program in
 *       before anybody gets a further one (max-min fairness, without queues).
 * </ol>
 *
 * <p>A refusal is immediate (RESOURCE_EXHAUSTED) and holds nothing: the renter retries with back-off, as
 * the SDK does. Queuing headers until a slot frees would be fairer to the order of arrival but holds a
 * stream, a header and memory per waiting program, which is the very resource an attacker would then
 * fill. Thread-safe; every change reports the new total to {@code onChange} (the metrics gauge), under
 * the lock so the gauge never goes back in time.
 */
final class ProgramSlots {
  /** What {@link #take} decided. */
  enum Grant {
    /** The account holds one more slot. */
    TAKEN,
    /** The host runs its {@code maxConcurrentPrograms}. */
    HOST_FULL,
    /** The account runs its {@code maxProgramsPerAccount}. */
    ACCOUNT_FULL,
    /** Only the slots kept for accounts running nothing are free, and this account runs something. */
    RESERVED
  }

  private final Map<PublicKey, Integer> held = new HashMap<>();
  private final double reservedShare;
  private final IntConsumer onChange;
  private int total;

  /** @param reservedShare the share of the slots kept for accounts running none (0 to below 1) */
  ProgramSlots(double reservedShare, IntConsumer onChange) {
    this.reservedShare = reservedShare;
    this.onChange = onChange;
  }

  /**
   * The slots of a host of {@code limit} that an account already running a program may not take: the
   * reserved share of them, rounded down (a quarter by default: none on a host of fewer than 4, 16 of 64).
   */
  int reserve(int limit) {
    return (int) Math.floor(limit * reservedShare);
  }

  /**
   * What {@link #take} would decide for {@code account} now, taking nothing: lets admission refuse a
   * program before it verifies a signature or touches the ledger (a claimed account that is not the
   * signer's is refused either way).
   */
  synchronized Grant check(PublicKey account, int limit, int perAccount) {
    int mine = held.getOrDefault(account, 0);
    if (total >= limit) {
      return Grant.HOST_FULL;
    }
    if (mine >= perAccount) {
      return Grant.ACCOUNT_FULL;
    }
    if (mine > 0 && limit - total <= reserve(limit)) {
      return Grant.RESERVED;
    }
    return Grant.TAKEN;
  }

  /** Takes a slot for {@code account} if the rules above allow it. */
  synchronized Grant take(PublicKey account, int limit, int perAccount) {
    Grant grant = check(account, limit, perAccount);
    if (grant == Grant.TAKEN) {
      held.merge(account, 1, Integer::sum);
      onChange.accept(++total);
    }
    return grant;
  }

  /** Gives back a slot {@code account} took. */
  synchronized void release(PublicKey account) {
    Integer mine = held.get(account);
    if (mine == null) {
      throw new IllegalStateException("account " + account + " holds no program slot");
    }
    if (mine == 1) {
      held.remove(account);
    } else {
      held.put(account, mine - 1);
    }
    onChange.accept(--total);
  }

  /** Programs holding a slot. */
  synchronized int running() {
    return total;
  }

  /** Programs of {@code account} holding a slot. */
  synchronized int running(PublicKey account) {
    return held.getOrDefault(account, 0);
  }

  /** Accounts running at least one program. */
  synchronized int accounts() {
    return held.size();
  }
}
