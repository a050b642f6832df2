package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Instant;
import java.util.Objects;

/**
 * What the ledger keeps under one nonce of an account, written when a program it paid for ends: the
 * account pays {@code cost} (the program's final cost, never more than its budget), the {@code nonce} is
 * used until {@code expiry}, and {@code programId} becomes the account's last program. A host commits it
 * in the same transaction as the program's records, so the charge and the writes are durable together,
 * and before the receipt stating that cost leaves the host.
 *
 * <p>Two kinds ({@link Kind}). A {@link Kind#WITHDRAWAL withdrawal} pays for one program, once: its row
 * is written once and a second settlement under its nonce is refused. A {@link Kind#SESSION session}
 * pays for many programs under one nonce: each program's settlement adds its cost and its count to the
 * session's one row ({@link Ledger#settle}), whose {@code programId} is the last program settled, so the
 * row the ledger lists ({@link Ledger#settlements}) carries the session's totals.
 *
 * @param expiry the withdrawal's or session's expiry (whole seconds): the nonce is remembered until then
 * @param cost what the row charges: one program's cost, or a session row's total
 * @param programs how many programs the row pays for: 1 for a withdrawal, at least 1 for a session
 */
public record Settlement(PublicKey account, long nonce, Instant expiry, Hash programId, Amount cost, Kind kind,
    int programs) {
  /** What paid for the program. */
  public enum Kind {
    /** A signed withdrawal paying for one program. */
    WITHDRAWAL,
    /** A payment session paying for many programs under one nonce. */
    SESSION
  }

  public Settlement {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(expiry, "expiry");
    Objects.requireNonNull(programId, "programId");
    Objects.requireNonNull(cost, "cost");
    Objects.requireNonNull(kind, "kind");
    PriceTable.wholeSeconds("expiry", expiry);
    if (programs < 1 || (kind == Kind.WITHDRAWAL && programs != 1)) {
      throw new IllegalArgumentException("a " + kind + " settlement covers " + (kind == Kind.WITHDRAWAL ? "1 program"
          : "at least 1 program") + ", got " + programs);
    }
  }

  /** The settlement of the one program a withdrawal paid for (kind {@link Kind#WITHDRAWAL}, 1 program). */
  public Settlement(PublicKey account, long nonce, Instant expiry, Hash programId, Amount cost) {
    this(account, nonce, expiry, programId, cost, Kind.WITHDRAWAL, 1);
  }

  /** The settlement of one program a session paid for (kind {@link Kind#SESSION}, 1 program). */
  public static Settlement sessionProgram(PublicKey account, long nonce, Instant expiry, Hash programId, Amount cost) {
    return new Settlement(account, nonce, expiry, programId, cost, Kind.SESSION, 1);
  }
}
