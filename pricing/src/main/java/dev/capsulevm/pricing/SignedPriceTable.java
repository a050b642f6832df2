package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.Signature;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;

/** A price table with its host's Ed25519 signature over the canonical body. */
public record SignedPriceTable(PriceTable table, Signature signature) {
  /** The length of the canonical encoding: body, then signature. */
  public static final int LENGTH = PriceTable.BODY_LENGTH + Signature.LENGTH;

  public SignedPriceTable {
    Objects.requireNonNull(table, "table");
    Objects.requireNonNull(signature, "signature");
  }

  /** The canonical encoding: the body followed by the 64-byte signature. */
  public byte[] encode() {
    byte[] out = Arrays.copyOf(table.body(), LENGTH);
    signature.copyTo(out, PriceTable.BODY_LENGTH);
    return out;
  }

  /** Parses exactly one canonical encoding; does not verify (see {@link #verify(Clock)}). */
  public static SignedPriceTable parse(byte[] bytes) throws VerificationException {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != LENGTH) {
      throw Codec.malformed("signed price table is " + LENGTH + " bytes, got " + bytes.length);
    }
    PriceTable table = PriceTable.parseBody(Arrays.copyOf(bytes, PriceTable.BODY_LENGTH));
    return new SignedPriceTable(table, Signature.copyOf(bytes, PriceTable.BODY_LENGTH, Signature.LENGTH));
  }

  /**
   * Checks that the host named in the table signed it and that {@code clock}'s now lies in
   * {@code [validFrom, validUntil)}; returns the table.
   */
  public PriceTable verify(Clock clock) throws PricingException {
    if (!table.hostKey().verify(Domain.PRICE_TABLE_SIGNATURE, table.body(), signature)) {
      throw new PricingException(PricingException.Reason.BAD_SIGNATURE,
          "price table " + table.id() + " is not signed by host " + table.hostKey());
    }
    Instant now = clock.instant();
    if (now.isBefore(table.validFrom())) {
      throw new PricingException(PricingException.Reason.NOT_YET_VALID,
          "price table valid from " + table.validFrom() + ", now is " + now);
    }
    if (!now.isBefore(table.validUntil())) {
      throw new PricingException(PricingException.Reason.EXPIRED,
          "price table valid until " + table.validUntil() + ", now is " + now);
    }
    return table;
  }
}
