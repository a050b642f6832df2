package dev.capsulevm.pricing;

/**
 * A non-negative whole number of micro-CAP, the smallest unit of payment (1 CAP = 1,000,000 units).
 *
 * <p>Every operation is exact: a result that would be negative or exceed {@link Long#MAX_VALUE} units
 * throws {@link AmountOverflowException} instead of wrapping or rounding, because an amount that silently
 * wraps is exactly how host and renter balances drift apart.
 */
public record Amount(long units) implements Comparable<Amount> {
  /** How many units make one CAP, the unit the text form is written in. */
  public static final long UNITS_PER_CAP = 1_000_000L;

  /** Zero units. */
  public static final Amount ZERO = new Amount(0);

  /** The largest amount, {@link Long#MAX_VALUE} units. */
  public static final Amount MAX = new Amount(Long.MAX_VALUE);

  public Amount {
    if (units < 0) {
      throw new IllegalArgumentException("an amount is never negative, got " + units + " units");
    }
  }

  /** {@code units} smallest units. */
  public static Amount of(long units) {
    return units == 0 ? ZERO : new Amount(units);
  }

  /** Whole CAP, {@code cap * 1,000,000} units. */
  public static Amount ofCap(long cap) {
    return of(multiply(cap, UNITS_PER_CAP));
  }

  /** {@code this + other}. */
  public Amount plus(Amount other) {
    return of(add(units, other.units));
  }

  /** {@code this - other}; refused if {@code other} is larger. */
  public Amount minus(Amount other) {
    return of(subtract(units, other.units));
  }

  /** {@code this * factor}, for a non-negative count such as bytes or time units. */
  public Amount times(long factor) {
    return of(multiply(units, factor));
  }

  /** Whether this is zero. */
  public boolean isZero() {
    return units == 0;
  }

  /** Whether this is strictly greater than {@code other}. */
  public boolean exceeds(Amount other) {
    return units > other.units;
  }

  @Override
  public int compareTo(Amount other) {
    return Long.compare(units, other.units);
  }

  /** The text form, CAP with six decimals: {@code "1.234567 CAP"}. */
  @Override
  public String toString() {
    return units / UNITS_PER_CAP + "." + String.format("%06d", units % UNITS_PER_CAP) + " CAP";
  }

  /** Parses the text form {@code "<whole>.<six digits> CAP"} that {@link #toString()} writes. */
  public static Amount parse(String text) {
    String s = text.strip();
    if (!s.endsWith(" CAP")) {
      throw new IllegalArgumentException("an amount ends in \" CAP\": " + text);
    }
    s = s.substring(0, s.length() - 4);
    int dot = s.indexOf('.');
    if (dot < 1 || s.length() - dot - 1 != 6) {
      throw new IllegalArgumentException("an amount has six decimals: " + text);
    }
    long whole = Long.parseLong(s.substring(0, dot));
    long fraction = Long.parseLong(s.substring(dot + 1));
    if (whole < 0 || fraction < 0) {
      throw new IllegalArgumentException("an amount is never negative: " + text);
    }
    return of(add(multiply(whole, UNITS_PER_CAP), fraction));
  }

  // The raw long operations, shared with the meter so its hot path allocates nothing.

  static long add(long a, long b) {
    try {
      return Math.addExact(a, b);
    } catch (ArithmeticException e) {
      throw new AmountOverflowException("overflow: " + a + " + " + b + " units exceeds " + Long.MAX_VALUE);
    }
  }

  static long subtract(long a, long b) {
    if (b > a) {
      throw new AmountOverflowException("underflow: " + a + " - " + b + " units is negative");
    }
    return a - b;
  }

  static long multiply(long a, long b) {
    if (a < 0 || b < 0) {
      throw new AmountOverflowException("negative factor: " + a + " * " + b);
    }
    try {
      return Math.multiplyExact(a, b);
    } catch (ArithmeticException e) {
      throw new AmountOverflowException("overflow: " + a + " * " + b + " units exceeds " + Long.MAX_VALUE);
    }
  }
}
