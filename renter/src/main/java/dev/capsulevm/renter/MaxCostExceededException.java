package dev.capsulevm.renter;

import dev.capsulevm.pricing.Amount;

/**
 * A program whose estimate is above the renter's cap on one program's cost
 * ({@link RenterOptions#maxCostOrNull()}): refused before anything was sent, so nothing was spent.
 */
public final class MaxCostExceededException extends RenterException {
  private static final long serialVersionUID = 1L;

  private final Amount estimate;
  private final Amount maxCost;

  public MaxCostExceededException(Amount estimate, Amount maxCost) {
    super("the program's estimate, " + estimate + ", is above the most one program may cost, " + maxCost
        + ": refused before sending, nothing was spent");
    this.estimate = estimate;
    this.maxCost = maxCost;
  }

  /** The program's estimate at the host's current prices. */
  public Amount estimate() {
    return estimate;
  }

  /** The cap it is above. */
  public Amount maxCost() {
    return maxCost;
  }
}
