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
    out.put((byte) VERSION);
    Codec.putKey(out, account);
    Codec.putAmount(out, amount);
    out.putLong(nonce);
    Codec.putSeconds(out, expiry);
    Codec.putHash(out, priceTableId);
    Codec.putKey(out, hostKey);
    return out.array();
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
    in.version(VERSION);
    PublicKey account = in.key("account");
    Amount amount = in.amount("amount");
    long nonce = in.anyLong();
    Instant expiry = in.seconds("expiry");
    Hash table = in.hash();
    PublicKey host = in.key("hostKey");
    in.finish();
    return new Withdrawal(account, amount, nonce, expiry, table, host);
  }
}
