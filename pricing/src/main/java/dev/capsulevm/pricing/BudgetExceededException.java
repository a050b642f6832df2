package dev.capsulevm.pricing;

/** A charge was refused before its work ran because it needed more than the program's budget had left. */
public final class BudgetExceededException extends PricingException {
  private static final long serialVersionUID = 1L;

  private final Amount needed;
  private final Amount left;

  BudgetExceededException(String what, Amount needed, Amount left) {
    super(Reason.BUDGET_EXCEEDED, what + " needs " + needed.units() + " units but only " + left.units()
        + " units of the budget are left");
    this.needed = needed;
    this.left = left;
  }

  /** What the refused charge would have cost. */
  public Amount needed() {
    return needed;
  }

  /** What was left of the budget when it was refused. */
  public Amount left() {
    return left;
  }
}
