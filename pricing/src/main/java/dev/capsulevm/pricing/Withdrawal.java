package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.util.Objects;

/**
 * An account holder's order to pay {@code amount} from {@code account} to one host under one price
 * table, usable once (its nonce) and only before {@code expiry}.
 */
public record Withdrawal(
    PublicKey account, Amount amount, long nonce, Instant expiry, Hash priceTableId, PublicKey hostKey) {

  static final int VERSION = 1;
  /** The length of the canonical body. */
  public static final int BODY_LENGTH = 1 + PublicKey.LENGTH + 8 + 8 + 8 + Hash.LENGTH + PublicKey.LENGTH;

  public Withdrawal {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    Objects.requireNonNull(expiry, "expiry");
    Objects.requireNonNull(priceTableId, "priceTableId");
    Objects.requireNonNull(hostKey, "hostKey");
    PriceTable.wholeSeconds("expiry", expiry);
  }

  /** The canonical body: the bytes the account holder signs. */
  public byte[] body() {
    ByteBuffer out = ByteBuffer.allocate(BODY_LENGTH);
    writeTo(out);
    return out.array();
  }

  /** Writes the body's fields; a session request's body starts with them ({@link SessionRequest}). */
  void writeTo(ByteBuffer out) {
    out.put((byte) VERSION);
    Codec.putKey(out, account);
    Codec.putAmount(out, amount);
    out.putLong(nonce);
    Codec.putSeconds(out, expiry);
    Codec.putHash(out, priceTableId);
    Codec.putKey(out, hostKey);
  }

  /** Signs the body with the account's key, which must be {@link #account()}. */
  public SignedWithdrawal sign(SigningKey accountKey) {
    if (!accountKey.publicKey().equals(account)) {
      throw new IllegalArgumentException("the withdrawal is from account " + account + ", not the signer");
    }
    return new SignedWithdrawal(this, accountKey.sign(Domain.WITHDRAWAL_SIGNATURE, body()));
  }

  /** Parses exactly one canonical body. */
  public static Withdrawal parseBody(byte[] body) throws VerificationException {
    Codec.Reader in = new Codec.Reader(body, BODY_LENGTH, "withdrawal body");
    Withdrawal w = readFrom(in);
    in.finish();
    return w;
  }

  /** Reads the body's fields, as {@link #writeTo} writes them. */
  static Withdrawal readFrom(Codec.Reader in) throws VerificationException {
    in.version(VERSION);
    PublicKey account = in.key("account");
    Amount amount = in.amount("amount");
    long nonce = in.anyLong();
    Instant expiry = in.seconds("expiry");
    Hash table = in.hash();
    PublicKey host = in.key("hostKey");
    return new Withdrawal(account, amount, nonce, expiry, table, host);
  }

  /**
   * The stateless checks a host makes of an order signed over {@code signedBody} with {@code tag} (this
   * withdrawal's, or a session request's, which starts with its fields), called {@code what} in refusals:
   * addressed to {@code hostKey}, under {@code priceTableId}, not expired by {@code clock}, and signed by
   * the account. The nonce and balance are the holds' to check, atomically.
   */
  void check(String what, Domain tag, byte[] signedBody, Signature signature, PublicKey hostKey, Hash priceTableId,
      Clock clock) throws PricingException {
    if (!this.hostKey.equals(hostKey)) {
      throw new PricingException(PricingException.Reason.WRONG_HOST,
          what + " is for host " + this.hostKey + ", this host is " + hostKey);
    }
    if (!this.priceTableId.equals(priceTableId)) {
      throw new PricingException(PricingException.Reason.WRONG_PRICE_TABLE,
          what + " names price table " + this.priceTableId + ", in force is " + priceTableId);
    }
    Instant now = clock.instant();
    if (!now.isBefore(expiry)) {
      throw new PricingException(PricingException.Reason.EXPIRED, what + " expired at " + expiry + ", now is " + now);
    }
    if (!account.verify(tag, signedBody, signature)) {
      throw new PricingException(PricingException.Reason.BAD_SIGNATURE,
          what + " nonce " + nonce + " is not signed by account " + account);
    }
  }
}
