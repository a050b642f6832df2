package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A host's statement of an account's balance at {@code issuedAt}, naming the last program settled
 * against the account, whose refund the balance includes; signed, it lets a renter hold the host to
 * the figure (layout: docs/FORMAT.md, "Balance statement").
 *
 * @param issuedAt when the host read the balance, whole milliseconds
 * @param lastProgramIdOrNull the last program settled against the account on this host, or null for none
 */
public record BalanceStatement(
    PublicKey hostKey, Instant issuedAt, PublicKey account, Amount balance, @Nullable Hash lastProgramIdOrNull) {

  static final int VERSION = 1;
  /** The length of the canonical body. */
  public static final int BODY_LENGTH = 1 + PublicKey.LENGTH + 8 + PublicKey.LENGTH + 8 + Hash.LENGTH;

  public BalanceStatement {
    Objects.requireNonNull(hostKey, "hostKey");
    Objects.requireNonNull(issuedAt, "issuedAt");
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(balance, "balance");
    Codec.wholeMillis("issuedAt", issuedAt);
    if (lastProgramIdOrNull != null && Codec.isZero(lastProgramIdOrNull)) {
      throw new IllegalArgumentException("a program id of 32 zero bytes would read as \"none\"");
    }
  }

  /**
   * The statement of {@code account} in {@code ledger} now (to the millisecond of {@code clock}). The last
   * program is read before the balance, so the program it names always has its refund in the balance.
   */
  public static BalanceStatement of(Ledger ledger, PublicKey account, PublicKey hostKey, Clock clock) {
    Hash lastProgram = ledger.lastProgram(account);
    Amount balance = ledger.balance(account);
    return new BalanceStatement(hostKey, clock.instant().truncatedTo(ChronoUnit.MILLIS), account, balance,
        lastProgram);
  }

  /** The canonical body: the bytes the host signs. */
  public byte[] body() {
    ByteBuffer out = ByteBuffer.allocate(BODY_LENGTH);
    out.put((byte) VERSION);
    Codec.putKey(out, hostKey);
    Codec.putMillis(out, issuedAt);
    Codec.putKey(out, account);
    Codec.putAmount(out, balance);
    Codec.putHashOrZero(out, lastProgramIdOrNull);
    return out.array();
  }

  /** Signs the body with the host's key, which must be {@link #hostKey()}. */
  public SignedBalanceStatement sign(SigningKey hostSigningKey) {
    if (!hostSigningKey.publicKey().equals(hostKey)) {
      throw new IllegalArgumentException("the statement names host " + hostKey + ", not the signer");
    }
    return new SignedBalanceStatement(this, hostSigningKey.sign(Domain.BALANCE_STATEMENT_SIGNATURE, body()));
  }

  /** Parses exactly one canonical body. */
  public static BalanceStatement parseBody(byte[] body) throws VerificationException {
    Objects.requireNonNull(body, "body");
    Codec.Reader in = new Codec.Reader(body, BODY_LENGTH, "balance statement body");
    in.version(VERSION);
    PublicKey host = in.key("hostKey");
    Instant issuedAt = in.millis("issuedAt");
    PublicKey account = in.key("account");
    Amount balance = in.amount("balance");
    Hash lastProgram = in.hashOrNull("lastProgramId");
    in.finish();
    return new BalanceStatement(host, issuedAt, account, balance, lastProgram);
  }
}
