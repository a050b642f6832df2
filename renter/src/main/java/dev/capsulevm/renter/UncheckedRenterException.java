package dev.capsulevm.renter;

/** Carries a {@link RenterException} out of an {@link java.util.Iterator}, which cannot throw checked ones. */
public final class UncheckedRenterException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public UncheckedRenterException(RenterException cause) {
    super(cause.getMessage(), cause);
  }

  @Override
  public synchronized RenterException getCause() {
    return (RenterException) super.getCause();
  }
}
