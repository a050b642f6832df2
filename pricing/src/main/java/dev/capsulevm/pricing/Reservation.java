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
 * Thread-safe.
 */
public final class Reservation {
  private enum State { HELD, COMMITTED, RELEASED }

  private final Reservations owner;
  private final PublicKey account;
  private final Amount amount;
  private final long nonce;
  private final Instant expiry;
  private State state = State.HELD;
  private @Nullable Exception failure;

  Reservation(Reservations owner, PublicKey account, Amount amount, long nonce, Instant expiry) {
    this.owner = owner;
    this.account = account;
    this.amount = amount;
    this.nonce = nonce;
    this.expiry = expiry;
  }

  /** The paying account. */
  public PublicKey account() {
    return account;
  }

  /** The budget held: the withdrawal's amount. */
  public Amount amount() {
    return amount;
  }

  /** The withdrawal's nonce. */
  public long nonce() {
    return nonce;
  }

  /** The withdrawal's expiry. */
  public Instant expiry() {
    return expiry;
  }

  /**
   * The settlement of the program that ended giving back {@code refund} of this budget (a {@link Meter}'s
   * refund): it pays {@code amount - refund}.
   *
   * @throws IllegalArgumentException when the refund exceeds the budget
   */
  public Settlement settlement(Amount refund, Hash programId) {
    Objects.requireNonNull(refund, "refund");
    if (refund.units() > amount.units()) {
      throw new IllegalArgumentException("a refund of " + refund.units() + " units exceeds the budget of "
          + amount.units());
    }
    return new Settlement(account, nonce, expiry, programId, amount.minus(refund));
  }

  /**
   * The program's settlement is durable: the hold is given back (the ledger's balance now carries the
   * cost) and the nonce is the ledger's to remember. Later calls change nothing.
   *
   * @throws IllegalStateException when the reservation was released: its nonce may have been reserved again
   */
  public void committed() {
    synchronized (this) {
      if (state == State.COMMITTED) {
        return;
      }
      if (state == State.RELEASED) {
        throw new IllegalStateException("the reservation of nonce " + nonce + " of " + account
            + " was released; it cannot be committed");
      }
      state = State.COMMITTED;
    }
    owner.end(this);
  }

  /**
   * Gives the hold back with nothing charged: the nonce is free again. Does nothing once the reservation
   * has ended.
   */
  public void release() {
    synchronized (this) {
      if (state != State.HELD) {
        return;
      }
      state = State.RELEASED;
    }
    owner.end(this);
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
    return "reservation of " + amount.units() + " units, nonce " + nonce + " of " + account;
  }
}
