package dev.capsulevm.pricing;

import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The budgets of programs in flight, held in memory in front of a durable {@link Ledger}: a withdrawal is
 * <em>reserved</em> at admission (the account's spendable balance drops, its nonce is taken), and only
 * the program's final cost is written, once, when it ends ({@link Settlement}). Nothing is written when a
 * program starts, so a host pays one durable commit per program, not two, and a host that dies with
 * programs in flight has taken nothing for them: their holds vanish with its memory.
 *
 * <p>Replay protection across both: a nonce is refused while a reservation holds it and once the ledger
 * has it ({@link Ledger#nonceUsed}). A reservation gives its nonce up only after its settlement is durable
 * ({@link Reservation#committed()}), or with nothing charged ({@link Reservation#release()}), so a
 * withdrawal is charged at most once, whatever happens to the host.
 *
 * <p>The host's exposure, the work it does for programs whose charge is not durable yet, is bounded: the
 * budgets held at once never exceed {@code maxUncommitted}; a withdrawal that would pass it is refused
 * ({@link PricingException.Reason#UNCOMMITTED_RISK}), and one larger than it on its own can never be
 * admitted ({@link PricingException.Reason#LIMIT_EXCEEDED}).
 *
 * <p>Thread-safe: one lock over the holds; under it a reservation reads the ledger's balance and nonce.
 */
public final class Reservations {
  private record NonceKey(PublicKey account, long nonce) {}

  private final Ledger ledger;
  private final Clock clock;
  private final Duration maxExpiryAhead;
  private final Amount maxUncommitted;
  private final Object lock = new Object();
  private final Map<PublicKey, Long> heldByAccount = new HashMap<>();
  private final Map<NonceKey, Reservation> byNonce = new HashMap<>();
  private long held;

  /**
   * Holds in front of {@code ledger}, reading time from {@code clock}; withdrawals expiring more than
   * {@code maxExpiryAhead} from now are refused (the ledger remembers nonces that long), and the budgets
   * held at once never exceed {@code maxUncommitted}.
   */
  public Reservations(Ledger ledger, Clock clock, Duration maxExpiryAhead, Amount maxUncommitted) {
    this.ledger = Objects.requireNonNull(ledger, "ledger");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.maxExpiryAhead = Objects.requireNonNull(maxExpiryAhead, "maxExpiryAhead");
    this.maxUncommitted = Objects.requireNonNull(maxUncommitted, "maxUncommitted");
    if (maxExpiryAhead.isNegative()) {
      throw new IllegalArgumentException("maxExpiryAhead is never negative, got " + maxExpiryAhead);
    }
  }

  /** The durable ledger behind the holds. */
  public Ledger ledger() {
    return ledger;
  }

  /** The most the budgets held at once may add up to. */
  public Amount maxUncommitted() {
    return maxUncommitted;
  }

  /**
   * Holds {@code amount} of {@code account} for one program, under the withdrawal's {@code nonce} until
   * its {@code expiry}. Refused, holding nothing, when the withdrawal has expired ({@code EXPIRED}) or
   * expires too far ahead ({@code EXPIRY_TOO_FAR}), the amount alone exceeds {@code maxUncommitted}
   * ({@code LIMIT_EXCEEDED}), the nonce is held or used ({@code REPLAYED_NONCE}), the account's balance
   * less what it holds already is short ({@code INSUFFICIENT_BALANCE}), or the holds would exceed
   * {@code maxUncommitted} ({@code UNCOMMITTED_RISK}: retry once programs end).
   */
  public Reservation reserve(PublicKey account, Amount amount, long nonce, Instant expiry) throws PricingException {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    Objects.requireNonNull(expiry, "expiry");
    PriceTable.wholeSeconds("expiry", expiry); // as a withdrawal carries it, and a settlement keeps it
    Instant now = clock.instant();
    if (!now.isBefore(expiry)) {
      throw new PricingException(PricingException.Reason.EXPIRED,
          "withdrawal expired at " + expiry + ", now is " + now);
    }
    if (expiry.isAfter(now.plus(maxExpiryAhead))) {
      throw new PricingException(PricingException.Reason.EXPIRY_TOO_FAR,
          "withdrawal expires at " + expiry + ", more than " + maxExpiryAhead + " after " + now);
    }
    if (amount.units() > maxUncommitted.units()) {
      throw new PricingException(PricingException.Reason.LIMIT_EXCEEDED, "a budget of " + amount.units()
          + " units exceeds the " + maxUncommitted.units() + " units the host holds for programs in flight at"
          + " most (maxUncommittedRisk); withdraw less");
    }
    NonceKey key = new NonceKey(account, nonce);
    synchronized (lock) {
      if (byNonce.containsKey(key) || ledger.nonceUsed(account, nonce)) {
        throw new PricingException(PricingException.Reason.REPLAYED_NONCE,
            "account " + account + " already used nonce " + nonce);
      }
      long mine = heldByAccount.getOrDefault(account, 0L);
      long balance = ledger.balance(account).units();
      // A settlement lowers the balance a moment before its hold is given back, so this may briefly
      // understate what is spendable; it never overstates it.
      if (amount.units() > balance - mine) {
        throw new PricingException(PricingException.Reason.INSUFFICIENT_BALANCE, "account " + account
            + " holds " + balance + " units, " + mine + " of them held for its programs in flight; the"
            + " withdrawal asks for " + amount.units());
      }
      if (amount.units() > maxUncommitted.units() - held) {
        throw new PricingException(PricingException.Reason.UNCOMMITTED_RISK, "the host holds " + held
            + " units for programs whose charge is not written yet; " + amount.units() + " more would pass its"
            + " maxUncommittedRisk of " + maxUncommitted.units() + " units; retry when programs end");
      }
      Reservation reservation = new Reservation(this, account, amount, nonce, expiry);
      byNonce.put(key, reservation);
      heldByAccount.put(account, mine + amount.units());
      held += amount.units();
      return reservation;
    }
  }

  /** Gives a reservation's hold and nonce back (it committed or was released). */
  void end(Reservation reservation) {
    synchronized (lock) {
      if (byNonce.remove(new NonceKey(reservation.account(), reservation.nonce()), reservation)) {
        long left = heldByAccount.getOrDefault(reservation.account(), 0L) - reservation.amount().units();
        if (left == 0) {
          heldByAccount.remove(reservation.account());
        } else {
          heldByAccount.put(reservation.account(), left);
        }
        held -= reservation.amount().units();
      }
    }
  }

  /**
   * A refunder for a {@link Meter} paid by {@code reservation}: the program's settlement goes straight to
   * the ledger ({@link Ledger#settle}), then the hold is given back. It never throws: a settlement the
   * ledger could not write releases the hold with nothing charged and keeps why
   * ({@link Reservation#failureOrNull()}), and the receipt of that program must not be handed out.
   */
  public Refunder refunderFor(Reservation reservation) {
    Objects.requireNonNull(reservation, "reservation");
    return (refund, programId) -> {
      try {
        ledger.settle(reservation.settlement(refund, programId));
      } catch (PricingException | RuntimeException e) {
        reservation.failed(e);
        return;
      }
      reservation.committed();
    };
  }

  /** The budgets {@code account} holds for its programs in flight. */
  public Amount held(PublicKey account) {
    synchronized (lock) {
      return Amount.of(heldByAccount.getOrDefault(account, 0L));
    }
  }

  /** What {@code account} may still reserve: its balance less what it holds, never below zero. */
  public Amount spendable(PublicKey account) {
    synchronized (lock) {
      return Amount.of(Math.max(0, ledger.balance(account).units() - heldByAccount.getOrDefault(account, 0L)));
    }
  }

  /** The budgets held for every program in flight: the host's exposure should it die now. */
  public Amount held() {
    synchronized (lock) {
      return Amount.of(held);
    }
  }

  /** How many programs hold a budget now. */
  public int count() {
    synchronized (lock) {
      return byNonce.size();
    }
  }
}
