package dev.capsulevm.pricing;

import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Instant;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * A payment session held in memory by {@link Reservations} ({@link Reservations#openSession}): an amount
 * of one account, held under the session's nonce until its expiry, from which many programs reserve
 * their budgets ({@link #reserve}). Each program settles as one program of the session
 * ({@link Settlement.Kind#SESSION}: its cost is added to the session's one ledger row) and gives its
 * unspent budget back to the session. What the account holds for the session is its amount less the
 * costs of its settled programs; nothing of it is written, so a host that dies has taken only those
 * costs.
 *
 * <p>{@link #close()} ends it: no new programs, and once none is in flight its remainder goes back to the
 * account. A session past its expiry refuses programs and closes. Thread-safe: its state is guarded by its
 * {@link Reservations}' lock.
 */
public final class SessionHold {
  private final Reservations owner;
  private final PublicKey account;
  private final Amount amount;
  private final long nonce;
  private final Instant expiry;
  // Guarded by owner.lock; written by Reservations.
  final Set<Reservation> inFlight = Collections.newSetFromMap(new IdentityHashMap<>());
  long inFlightUnits;
  long chargedUnits;
  int programs;
  boolean closed;
  boolean released;

  SessionHold(Reservations owner, PublicKey account, Amount amount, long nonce, Instant expiry) {
    this.owner = owner;
    this.account = account;
    this.amount = amount;
    this.nonce = nonce;
    this.expiry = expiry;
  }

  /**
   * Holds {@code budget} of the session's remainder for one program: a {@link Reservation} that works
   * with {@link Reservations#refunderFor} and a {@link Meter} as a withdrawal's does, settles as one
   * program of the session, and gives back to the session what the program did not spend. Refused,
   * holding nothing, when the session is closed or has expired ({@code EXPIRED}; an expired session
   * closes), the budget alone exceeds {@code maxUncommitted} ({@code LIMIT_EXCEEDED}), the session's
   * remainder is short ({@code INSUFFICIENT_BALANCE}, naming the remainder), or the budgets of programs
   * in flight would pass {@code maxUncommitted} ({@code UNCOMMITTED_RISK}: retry once programs end).
   */
  public Reservation reserve(Amount budget) throws PricingException {
    return owner.reserve(this, budget);
  }

  /**
   * Funds no more programs; once none of its programs is in flight (now, or when the last ends), gives
   * its remainder back to the account. Writes nothing; later calls change nothing.
   */
  public void close() {
    owner.close(this);
  }

  /** The paying account. */
  public PublicKey account() {
    return account;
  }

  /** The amount the session was opened with. */
  public Amount amount() {
    return amount;
  }

  /** The session's nonce: its programs' settlements accumulate under it. */
  public long nonce() {
    return nonce;
  }

  /** The session's expiry: no program is admitted from then on, and the ledger forgets the nonce then. */
  public Instant expiry() {
    return expiry;
  }

  /**
   * What new programs may still reserve: the amount less the costs of settled programs and the budgets of
   * programs in flight. Once the session is closed and its programs have ended, what went back to the
   * account.
   */
  public Amount remaining() {
    synchronized (owner.lock) {
      return Amount.of(remainingUnits());
    }
  }

  /** The costs of the session's settled programs: what the ledger has taken. */
  public Amount charged() {
    synchronized (owner.lock) {
      return Amount.of(chargedUnits);
    }
  }

  /** How many of the session's programs have settled. */
  public int programs() {
    synchronized (owner.lock) {
      return programs;
    }
  }

  /** How many of the session's programs are in flight. */
  public int inFlight() {
    synchronized (owner.lock) {
      return inFlight.size();
    }
  }

  /** Whether the session was closed (by {@link #close()} or on reaching its expiry). */
  public boolean isClosed() {
    synchronized (owner.lock) {
      return closed;
    }
  }

  /** Under the owner's lock. */
  long remainingUnits() {
    return amount.units() - chargedUnits - inFlightUnits;
  }

  @Override
  public String toString() {
    return "session nonce " + nonce + " of " + account;
  }
}
