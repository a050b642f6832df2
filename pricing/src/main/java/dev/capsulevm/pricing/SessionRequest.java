package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Objects;

/**
 * An account holder's order to hold {@code amount} of {@code account} at one host, under one price table,
 * for a payment session: many programs, each paid by a {@link Ticket} the session's key authenticates
 * instead of a signed withdrawal. Usable once (its nonce), only before {@code expiry}, which also ends the
 * session; {@code exchangeKey} is the renter's half of the session key.
 */
public record SessionRequest(PublicKey account, Amount amount, long nonce, Instant expiry, Hash priceTableId,
    PublicKey hostKey, ExchangeKey exchangeKey) {

  /** The length of the canonical body. */
  public static final int BODY_LENGTH = Withdrawal.BODY_LENGTH + ExchangeKey.LENGTH;

  public SessionRequest {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(amount, "amount");
    Objects.requireNonNull(expiry, "expiry");
    Objects.requireNonNull(priceTableId, "priceTableId");
    Objects.requireNonNull(hostKey, "hostKey");
    Objects.requireNonNull(exchangeKey, "exchangeKey");
    PriceTable.wholeSeconds("expiry", expiry);
  }

  /** The canonical body: the bytes the account holder signs, a withdrawal's fields and then the exchange key. */
  public byte[] body() {
    ByteBuffer out = ByteBuffer.allocate(BODY_LENGTH);
    withdrawal().writeTo(out);
    out.put(exchangeKey.toByteArray());
    return out.array();
  }

  /** The withdrawal the request's first fields make: what the session holds, from whom, where and until when. */
  Withdrawal withdrawal() {
    return new Withdrawal(account, amount, nonce, expiry, priceTableId, hostKey);
  }

  /** Signs the body with the account's key, which must be {@link #account()}. */
  public SignedSessionRequest sign(SigningKey accountKey) {
    if (!accountKey.publicKey().equals(account)) {
      throw new IllegalArgumentException("the session request is from account " + account + ", not the signer");
    }
    return new SignedSessionRequest(this, accountKey.sign(Domain.SESSION_REQUEST_SIGNATURE, body()));
  }

  /** Parses exactly one canonical body. */
  public static SessionRequest parseBody(byte[] body) throws VerificationException {
    Codec.Reader in = new Codec.Reader(body, BODY_LENGTH, "session request body");
    Withdrawal w = Withdrawal.readFrom(in);
    ExchangeKey exchange = ExchangeKey.copyOf(in.bytes(ExchangeKey.LENGTH, "exchangeKey"));
    in.finish();
    return new SessionRequest(w.account(), w.amount(), w.nonce(), w.expiry(), w.priceTableId(), w.hostKey(), exchange);
  }
}
