package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Clock;
import java.util.Objects;

/** The host's till: turns a signed withdrawal into a program budget taken from the paying account's ledger. */
public final class Cashier {
  private final Ledger ledger;
  private final PublicKey hostKey;
  private final Clock clock;

  /** A cashier for the host with {@code hostKey}, paying out of {@code ledger}, reading time from {@code clock}. */
  public Cashier(Ledger ledger, PublicKey hostKey, Clock clock) {
    this.ledger = Objects.requireNonNull(ledger, "ledger");
    this.hostKey = Objects.requireNonNull(hostKey, "hostKey");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Checks the withdrawal (host, price table, expiry, signature) and then takes its amount from the
   * account, which the ledger refuses atomically if the nonce was used or the balance is short.
   *
   * @return the budget now held for the program
   */
  public Amount accept(SignedWithdrawal signed, Hash priceTableIdInForce) throws PricingException {
    Withdrawal w = signed.verify(hostKey, priceTableIdInForce, clock);
    ledger.withdraw(w.account(), w.amount(), w.nonce(), w.expiry());
    return w.amount();
  }

  /**
   * A refunder that returns money to {@code account} in this cashier's ledger, recording the program as
   * the last one settled against the account.
   */
  public Refunder refunderFor(PublicKey account) {
    Objects.requireNonNull(account, "account");
    return (amount, programId) -> ledger.refund(account, amount, programId);
  }
}
