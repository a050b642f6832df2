package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Instant;
import java.util.Objects;

/**
 * What the ledger keeps of one program paid by a withdrawal, written once when the program ends: the
 * account pays {@code cost} (the program's final cost, never more than its budget), the withdrawal's
 * {@code nonce} is used until {@code expiry}, and {@code programId} becomes the account's last program.
 * A host commits it in the same transaction as the program's records, so the charge and the writes are
 * durable together, and before the receipt stating that cost leaves the host.
 *
 * @param expiry the withdrawal's expiry (whole seconds): the nonce is remembered until then
 */
public record Settlement(PublicKey account, long nonce, Instant expiry, Hash programId, Amount cost) {
  public Settlement {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(expiry, "expiry");
    Objects.requireNonNull(programId, "programId");
    Objects.requireNonNull(cost, "cost");
    PriceTable.wholeSeconds("expiry", expiry);
  }
}
