package dev.capsulevm.pricing;

/** Arithmetic on {@link Amount}s whose exact result is negative or does not fit in a signed 64-bit count. */
public final class AmountOverflowException extends ArithmeticException {
  private static final long serialVersionUID = 1L;

  AmountOverflowException(String message) {
    super(message);
  }
}
