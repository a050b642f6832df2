package dev.capsulevm.renter;

import java.util.Objects;

/** Carries a {@link RenterException} out of an {@link java.util.Iterator}, which cannot throw checked ones. */
public final class UncheckedRenterException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public UncheckedRenterException(RenterException cause) {
    super(cause.getMessage(), cause);
  }

  @Override
  public synchronized RenterException getCause() {
    // The constructor set it, and a cause once set cannot be replaced.
    return (RenterException) Objects.requireNonNull(super.getCause());
  }
}
