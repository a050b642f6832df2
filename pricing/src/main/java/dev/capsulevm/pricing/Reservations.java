package dev.capsulevm.pricing;

import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

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
 * <p>A payment session ({@link #openSession}, {@link SessionHold}) holds a larger amount of the account
 * under one nonce and funds many programs from it: each program's budget is carved from the session's
 * remainder ({@link SessionHold#reserve}), settles as one program of the session (its cost added to the
 * session's one ledger row) and gives its unspent budget back to the session, not the account. The
 * session's remainder is held in memory only, so a host that dies has taken just the costs of the
 * session's settled programs. It does not count toward {@code maxUncommitted}, since no work is done for
 * it; the budgets of its programs in flight do, as any program's.
 *
 * <p>Thread-safe: one lock over the holds and sessions; under it a reservation reads the ledger's balance
 * and nonce.
 */
public final class Reservations {
  private record NonceKey(PublicKey account, long nonce) {}

  private final Ledger ledger;
  private final Clock clock;
  private final Duration maxExpiryAhead;
  private final Amount maxUncommitted;
  /** Guards every hold here and the state of every {@link SessionHold}. */
  final Object lock = new Object();
  /** What each account holds: its withdrawals' budgets and its open sessions' amounts less their costs. */
  private final Map<PublicKey, Long> heldByAccount = new HashMap<>();
  private final Map<NonceKey, Reservation> withdrawals = new HashMap<>();
  private final Map<NonceKey, SessionHold> sessions = new HashMap<>();
  /** The budgets of every program in flight, withdrawals' and sessions': the host's exposure. */
  private long held;
  private int sessionProgramsInFlight;

  /**
   * Holds in front of {@code ledger}, reading time from {@code clock}; withdrawals and sessions expiring
   * more than {@code maxExpiryAhead} from now are refused (the ledger remembers nonces that long), and
   * the budgets held at once for programs in flight never exceed {@code maxUncommitted}.
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

  /** The most the budgets held at once for programs in flight may add up to. */
  public Amount maxUncommitted() {
    return maxUncommitted;
  }

  /**
   * Holds {@code amount} of {@code account} for one program, under the withdrawal's {@code nonce} until
   * its {@code expiry}. Refused, holding nothing, when the withdrawal has expired ({@code EXPIRED}) or
   * expires too far ahead ({@code EXPIRY_TOO_FAR}), the amount alone exceeds {@code maxUncommitted}
   * ({@code LIMIT_EXCEEDED}), the nonce is held (by a withdrawal or a session) or used
   * ({@code REPLAYED_NONCE}), the account's balance less what it holds already is short
   * ({@code INSUFFICIENT_BALANCE}), or the holds would exceed {@code maxUncommitted}
   * ({@code UNCOMMITTED_RISK}: retry once programs end).
   */
  public Reservation reserve(PublicKey account, Amount amount, long nonce, Instant expiry) throws PricingException {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    checkExpiry("withdrawal", expiry);
    checkBudget(amount);
    NonceKey key = new NonceKey(account, nonce);
    synchronized (lock) {
      checkNonceFree(key);
      long mine = checkSpendable(account, amount, "the withdrawal asks for ");
      checkRisk(amount);
      Reservation reservation = new Reservation(this, account, amount, nonce, expiry, null);
      withdrawals.put(key, reservation);
      heldByAccount.put(account, mine + amount.units());
      held += amount.units();
      return reservation;
    }
  }

  /**
   * Opens a payment session: holds {@code amount} of {@code account} under the session's {@code nonce}
   * until its {@code expiry}, for many programs to reserve their budgets from ({@link SessionHold#reserve}).
   * The amount leaves the account's spendable balance but is not exposure ({@code maxUncommitted} counts
   * only the budgets of programs in flight), so it may exceed {@code maxUncommitted}. Refused, holding
   * nothing, when the session has expired ({@code EXPIRED}) or expires too far ahead
   * ({@code EXPIRY_TOO_FAR}), the nonce is held or used, by a withdrawal or a session
   * ({@code REPLAYED_NONCE}), or the account's balance less what it holds already is short
   * ({@code INSUFFICIENT_BALANCE}). Nothing is written.
   */
  public SessionHold openSession(PublicKey account, Amount amount, long nonce, Instant expiry)
      throws PricingException {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    checkExpiry("session", expiry);
    NonceKey key = new NonceKey(account, nonce);
    synchronized (lock) {
      checkNonceFree(key);
      long mine = checkSpendable(account, amount, "the session asks for ");
      SessionHold session = new SessionHold(this, account, amount, nonce, expiry);
      sessions.put(key, session);
      heldByAccount.put(account, mine + amount.units());
      return session;
    }
  }

  /** {@link SessionHold#reserve}: a program's budget carved from the session's remainder. */
  Reservation reserve(SessionHold session, Amount budget) throws PricingException {
    Objects.requireNonNull(budget, "budget");
    synchronized (lock) {
      if (session.closed) {
        throw new PricingException(PricingException.Reason.EXPIRED, session + " is closed; it funds no more"
            + " programs");
      }
      Instant now = clock.instant();
      if (!now.isBefore(session.expiry())) {
        close(session); // it can never fund a program again: its remainder goes back once its programs end
        throw new PricingException(PricingException.Reason.EXPIRED,
            session + " expired at " + session.expiry() + ", now is " + now);
      }
      checkBudget(budget);
      long remaining = session.remainingUnits();
      if (budget.units() > remaining) {
        throw new PricingException(PricingException.Reason.INSUFFICIENT_BALANCE, session + " has " + remaining
            + " units left of its " + session.amount().units() + " (" + session.chargedUnits + " charged, "
            + session.inFlightUnits + " held by its programs in flight); the program's budget is " + budget.units());
      }
      checkRisk(budget);
      Reservation reservation =
          new Reservation(this, session.account(), budget, session.nonce(), session.expiry(), session);
      session.inFlight.add(reservation);
      session.inFlightUnits += budget.units();
      sessionProgramsInFlight++;
      held += budget.units();
      return reservation;
    }
  }

  /** {@link SessionHold#close}: no new programs; the remainder goes back once none is in flight. */
  void close(SessionHold session) {
    synchronized (lock) {
      session.closed = true;
      releaseIfDone(session);
    }
  }

  /**
   * Gives a reservation's hold back. A withdrawal's nonce goes with it (the ledger has it once
   * {@code committed} is its durable settlement). A session program's budget goes back to the session,
   * less {@code committed}'s cost, which the ledger has taken and the account holds no more.
   */
  void end(Reservation reservation, @Nullable Settlement committed) {
    synchronized (lock) {
      SessionHold session = reservation.sessionOrNull();
      long budget = reservation.amount().units();
      if (session == null) {
        if (withdrawals.remove(new NonceKey(reservation.account(), reservation.nonce()), reservation)) {
          unhold(reservation.account(), budget);
          held -= budget;
        }
        return;
      }
      if (!session.inFlight.remove(reservation)) {
        return;
      }
      session.inFlightUnits -= budget;
      sessionProgramsInFlight--;
      held -= budget;
      if (committed != null) {
        session.chargedUnits += committed.cost().units();
        session.programs++;
        unhold(session.account(), committed.cost().units());
      }
      releaseIfDone(session);
    }
  }

  /** A closed session with no program in flight gives its remainder back to the account, and its nonce up. */
  private void releaseIfDone(SessionHold session) {
    if (session.closed && !session.released && session.inFlight.isEmpty()) {
      session.released = true;
      unhold(session.account(), session.amount().units() - session.chargedUnits);
      // A session with settled programs leaves its nonce to the ledger; one with none was never charged.
      sessions.remove(new NonceKey(session.account(), session.nonce()), session);
    }
  }

  private void unhold(PublicKey account, long units) {
    long left = heldByAccount.getOrDefault(account, 0L) - units;
    if (left == 0) {
      heldByAccount.remove(account);
    } else {
      heldByAccount.put(account, left);
    }
  }

  private void checkExpiry(String what, Instant expiry) throws PricingException {
    Objects.requireNonNull(expiry, "expiry");
    PriceTable.wholeSeconds("expiry", expiry); // as a withdrawal carries it, and a settlement keeps it
    Instant now = clock.instant();
    if (!now.isBefore(expiry)) {
      throw new PricingException(PricingException.Reason.EXPIRED, what + " expired at " + expiry + ", now is " + now);
    }
    if (expiry.isAfter(now.plus(maxExpiryAhead))) {
      throw new PricingException(PricingException.Reason.EXPIRY_TOO_FAR,
          what + " expires at " + expiry + ", more than " + maxExpiryAhead + " after " + now);
    }
  }

  private void checkBudget(Amount budget) throws PricingException {
    if (budget.units() > maxUncommitted.units()) {
      throw new PricingException(PricingException.Reason.LIMIT_EXCEEDED, "a budget of " + budget.units()
          + " units exceeds the " + maxUncommitted.units() + " units the host holds for programs in flight at"
          + " most (maxUncommittedRisk); withdraw less");
    }
  }

  /** Under the lock: refuses a nonce a withdrawal or a session holds, or the ledger has. */
  private void checkNonceFree(NonceKey key) throws PricingException {
    if (withdrawals.containsKey(key) || sessions.containsKey(key) || ledger.nonceUsed(key.account(), key.nonce())) {
      throw new PricingException(PricingException.Reason.REPLAYED_NONCE,
          "account " + key.account() + " already used nonce " + key.nonce());
    }
  }

  /** Under the lock: refuses an amount above the account's balance less its holds; returns its holds. */
  private long checkSpendable(PublicKey account, Amount amount, String asks) throws PricingException {
    long mine = heldByAccount.getOrDefault(account, 0L);
    long balance = ledger.balance(account).units();
    // A settlement lowers the balance a moment before its hold is given back, so this may briefly
    // understate what is spendable; it never overstates it.
    if (amount.units() > balance - mine) {
      throw new PricingException(PricingException.Reason.INSUFFICIENT_BALANCE, "account " + account
          + " holds " + balance + " units, " + mine + " of them held for its programs in flight and sessions; "
          + asks + amount.units());
    }
    return mine;
  }

  /** Under the lock: refuses a budget that would take the holds for programs in flight past the limit. */
  private void checkRisk(Amount budget) throws PricingException {
    if (budget.units() > maxUncommitted.units() - held) {
      throw new PricingException(PricingException.Reason.UNCOMMITTED_RISK, "the host holds " + held
          + " units for programs whose charge is not written yet; " + budget.units() + " more would pass its"
          + " maxUncommittedRisk of " + maxUncommitted.units() + " units; retry when programs end");
    }
  }

  /**
   * A refunder for a {@link Meter} paid by {@code reservation}: the program's settlement goes straight to
   * the ledger ({@link Ledger#settle}), then the hold is given back (a session program's to its session).
   * It never throws: a settlement the ledger could not write releases the hold with nothing charged and
   * keeps why ({@link Reservation#failureOrNull()}), and the receipt of that program must not be handed
   * out.
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

  /**
   * What {@code account} holds: the budgets of its withdrawals' programs in flight and the amounts of its
   * open sessions less their programs' settled costs.
   */
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

  /**
   * The budgets held for every program in flight, paid by a withdrawal or a session: the host's exposure
   * should it die now. Sessions' remainders are not part of it.
   */
  public Amount held() {
    synchronized (lock) {
      return Amount.of(held);
    }
  }

  /** How many programs hold a budget now, paid by a withdrawal or a session. */
  public int count() {
    synchronized (lock) {
      return withdrawals.size() + sessionProgramsInFlight;
    }
  }
}
