package dev.capsulevm.renter;

import dev.capsulevm.pricing.PricingException;

/**
 * The host's price table is not acceptable: a bad signature, outside its validity window, or a price
 * above the renter's {@link dev.capsulevm.pricing.MaxPrices} (the message names the field).
 */
public final class PriceTableRefusedException extends RenterException {
  private static final long serialVersionUID = 1L;

  private final PricingException.Reason reason;

  public PriceTableRefusedException(PricingException cause) {
    super("price table refused (" + cause.reason() + "): " + cause.getMessage(), cause);
    this.reason = cause.reason();
  }

  public PricingException.Reason reason() {
    return reason;
  }
}
