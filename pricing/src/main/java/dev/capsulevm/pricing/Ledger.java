package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * The host's balances of ephemeral accounts, each named by an Ed25519 public key; every method is
 * atomic, so concurrent programs paid from one account can neither overdraw it nor lose a unit.
 */
public interface Ledger {
  /** Adds {@code amount} to the account; refused if the balance would exceed the maximum. */
  void deposit(PublicKey account, Amount amount) throws PricingException;

  /** The account's balance, zero for an account never seen. */
  Amount balance(PublicKey account);

  /**
   * Takes {@code amount} from the account if it holds that much and {@code nonce} was never used by
   * it, remembering the nonce until {@code expiry}; refused if the withdrawal has already expired.
   */
  void withdraw(PublicKey account, Amount amount, long nonce, Instant expiry) throws PricingException;

  /**
   * Gives back part of the withdrawal that paid for program {@code programId}, and records that program
   * as the last one settled against the account, in one atomic step. Never refused: money the host took
   * is returned even if it lifts the balance above the deposit maximum, because refusing would lose it.
   */
  void refund(PublicKey account, Amount amount, Hash programId);

  /**
   * The id of the last program settled against the account (the last {@link #refund}), whose refund is
   * in the balance; null when none was. A balance statement reads this before {@link #balance}, so the
   * program it names has its refund in the balance it states (see {@link BalanceStatement#of}).
   */
  @Nullable Hash lastProgram(PublicKey account);
}
