package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A program's budget held in memory by {@link Reservations} from its admission to its end: the account
 * cannot spend it twice, and the withdrawal's nonce cannot be presented again, while nothing is written.
 * It ends exactly once: {@link #committed()} once the program's {@link Settlement} is durable, or
 * {@link #release()} when nothing will be (a refusal at admission, a settlement that could not be
 * written). Either gives the hold back; if the host dies first, the hold simply vanishes with its memory.
 *
 * <p>A program of a payment session ({@link #sessionOrNull()}, from {@link SessionHold#reserve}) shares
 * the session's nonce and expiry; its {@link #settlement} is one program of the session, and its end
 * gives the budget back to the session: all of it on {@link #release()}, the budget less the cost of its
 * last {@link #settlement} on {@link #committed()}. Thread-safe.
 */
public final class Reservation {
  private enum State { HELD, COMMITTED, RELEASED }

  private final Reservations owner;
  private final PublicKey account;
  private final Amount amount;
  private final long nonce;
  private final Instant expiry;
  private final @Nullable SessionHold session;
  private State state = State.HELD;
  private @Nullable Exception failure;
  /** The last settlement made: what {@link #committed()} says is durable. */
  private @Nullable Settlement settlement;

  Reservation(Reservations owner, PublicKey account, Amount amount, long nonce, Instant expiry,
      @Nullable SessionHold session) {
    this.owner = owner;
    this.account = account;
    this.amount = amount;
    this.nonce = nonce;
    this.expiry = expiry;
    this.session = session;
  }

  /** The paying account. */
  public PublicKey account() {
    return account;
  }

  /** The budget held: the withdrawal's amount, or the budget a session program reserved. */
  public Amount amount() {
    return amount;
  }

  /** The withdrawal's nonce, or the session's. */
  public long nonce() {
    return nonce;
  }

  /** The withdrawal's expiry, or the session's. */
  public Instant expiry() {
    return expiry;
  }

  /** The session this program's budget was carved from; null for a program paid by a withdrawal. */
  public @Nullable SessionHold sessionOrNull() {
    return session;
  }

  /**
   * The settlement of the program that ended giving back {@code refund} of this budget (a {@link Meter}'s
   * refund): it pays {@code amount - refund}, as a withdrawal's program or as one program of the session.
   * The last one made is the one {@link #committed()} takes as durable.
   *
   * @throws IllegalArgumentException when the refund exceeds the budget
   */
  public Settlement settlement(Amount refund, Hash programId) {
    Objects.requireNonNull(refund, "refund");
    Objects.requireNonNull(programId, "programId");
    if (refund.units() > amount.units()) {
      throw new IllegalArgumentException("a refund of " + refund.units() + " units exceeds the budget of "
          + amount.units());
    }
    Settlement made = session == null ? new Settlement(account, nonce, expiry, programId, amount.minus(refund))
        : Settlement.sessionProgram(account, nonce, expiry, programId, amount.minus(refund));
    synchronized (this) {
      settlement = made;
    }
    return made;
  }

  /**
   * The program's settlement, the last {@link #settlement} made, is durable: the hold is given back (the
   * ledger's balance now carries the cost; a session program's budget less that cost goes back to the
   * session) and the nonce is the ledger's to remember. Later calls change nothing.
   *
   * @throws IllegalStateException when the reservation was released (its nonce may have been reserved
   *     again), or for a session program whose settlement was never made (its cost is unknown)
   */
  public void committed() {
    Settlement durable;
    synchronized (this) {
      if (state == State.COMMITTED) {
        return;
      }
      if (state == State.RELEASED) {
        throw new IllegalStateException("the reservation of nonce " + nonce + " of " + account
            + " was released; it cannot be committed");
      }
      if (session != null && settlement == null) {
        throw new IllegalStateException("the program of session nonce " + nonce + " of " + account
            + " has no settlement made: its cost is unknown");
      }
      state = State.COMMITTED;
      durable = settlement;
    }
    owner.end(this, durable);
  }

  /**
   * Gives the hold back with nothing charged: a withdrawal's nonce is free again, a session program's
   * budget goes back to the session whole. Does nothing once the reservation has ended.
   */
  public void release() {
    synchronized (this) {
      if (state != State.HELD) {
        return;
      }
      state = State.RELEASED;
    }
    owner.end(this, null);
  }

  /** Releases the hold because its settlement could not be written ({@link #failureOrNull()} keeps why). */
  void failed(Exception why) {
    synchronized (this) {
      if (state == State.HELD) {
        failure = why;
      }
    }
    release();
  }

  /** Whether the program's settlement is durable. */
  public synchronized boolean isCommitted() {
    return state == State.COMMITTED;
  }

  /** Whether the budget is still held. */
  public synchronized boolean isHeld() {
    return state == State.HELD;
  }

  /** Why the settlement could not be written, when a {@link Reservations#refunderFor} refunder failed; else null. */
  public synchronized @Nullable Exception failureOrNull() {
    return failure;
  }

  @Override
  public String toString() {
    return "reservation of " + amount.units() + " units, " + (session == null ? "" : "session ") + "nonce " + nonce
        + " of " + account;
  }
}
