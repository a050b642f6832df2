package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Clock;
import java.util.Objects;

/**
 * The host's till: turns a signed withdrawal into a program budget held from the paying account
 * ({@link Reservations}); nothing is written until the program settles.
 */
public final class Cashier {
  private final Reservations reservations;
  private final PublicKey hostKey;
  private final Clock clock;

  /** A cashier for the host with {@code hostKey}, holding budgets in {@code reservations}, reading time from {@code clock}. */
  public Cashier(Reservations reservations, PublicKey hostKey, Clock clock) {
    this.reservations = Objects.requireNonNull(reservations, "reservations");
    this.hostKey = Objects.requireNonNull(hostKey, "hostKey");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Checks the withdrawal (host, price table, expiry, signature) and then holds its amount for the
   * program, which the reservations refuse atomically if the nonce is held or used, the balance is short
   * or the host holds too much already.
   *
   * @return the budget now held for the program
   */
  public Reservation accept(SignedWithdrawal signed, Hash priceTableIdInForce) throws PricingException {
    Withdrawal w = signed.verify(hostKey, priceTableIdInForce, clock);
    return reservations.reserve(w.account(), w.amount(), w.nonce(), w.expiry());
  }

  /**
   * A refunder that settles the program paid by {@code reservation} in the ledger
   * ({@link Reservations#refunderFor}).
   */
  public Refunder refunderFor(Reservation reservation) {
    return reservations.refunderFor(reservation);
  }

  /** The holds this cashier takes. */
  public Reservations reservations() {
    return reservations;
  }
}
