package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The host's durable book of ephemeral accounts, each named by an Ed25519 public key: committed balances,
 * the settlements of programs paid by withdrawals (each charged once, under its nonce) and by payment
 * sessions (one row per session, under its nonce, accumulating its programs), and each account's last
 * settled program. Every method is atomic.
 *
 * <p>Nothing here is taken when a program starts: {@link Reservations} holds its budget in memory, and
 * the ledger learns of the program only when it ends, as one {@link Settlement} of its final cost. So a
 * host that dies with programs in flight has taken nothing for them.
 */
public interface Ledger {
  /** Adds {@code amount} to the account; refused if the balance would exceed the maximum. */
  void deposit(PublicKey account, Amount amount) throws PricingException;

  /**
   * The account's committed balance, zero for an account never seen: deposits and credits less the costs
   * of the programs settled. Budgets held for programs in flight are not taken from it (they are
   * {@link Reservations}'s).
   */
  Amount balance(PublicKey account);

  /**
   * Records that a program ended, in one atomic step: takes its cost from the account, marks the nonce
   * used until the settlement's expiry and makes the program the account's last.
   *
   * <p>A {@link Settlement.Kind#WITHDRAWAL withdrawal}'s settlement is refused when the nonce is used
   * at all ({@code REPLAYED_NONCE}). A {@link Settlement.Kind#SESSION session} program's is refused when
   * a withdrawal used the nonce ({@code REPLAYED_NONCE}); otherwise it creates the session's row or adds
   * to it: the row's cost grows by the settlement's cost, its program count by the settlement's
   * {@link Settlement#programs()}, its program id becomes this program's and its expiry stays the one
   * the row was created with. Either is refused when the balance is below the cost
   * ({@code INSUFFICIENT_BALANCE}), changing nothing; a host that reserved the budget first never meets
   * that, nor a replay.
   */
  void settle(Settlement settlement) throws PricingException;

  /**
   * Whether {@code nonce} of {@code account} is used by a settlement that has not expired: a withdrawal's,
   * or any program of a session.
   */
  boolean nonceUsed(PublicKey account, long nonce);

  /**
   * The account's settlements still remembered (not expired), one per nonce in nonce order, a session's
   * with its totals (cost, program count, last program): what an audit compares with the receipts it
   * holds.
   */
  List<Settlement> settlements(PublicKey account);

  /**
   * The id of the last program settled against the account, whose cost is in the balance; null when none
   * was. A balance statement reads this before {@link #balance}, so the program it names has its cost in
   * the balance it states (see {@link BalanceStatement#of}).
   */
  @Nullable Hash lastProgram(PublicKey account);
}
