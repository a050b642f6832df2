package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AmountTest {
  @Test
  void arithmeticIsExact() {
    assertEquals(Amount.of(7), Amount.of(3).plus(Amount.of(4)));
    assertEquals(Amount.of(1), Amount.of(4).minus(Amount.of(3)));
    assertEquals(Amount.of(12), Amount.of(3).times(4));
    assertEquals(Amount.of(3_000_000), Amount.ofCap(3));
  }

  @Test
  void overflowAndUnderflowAreRefused() {
    AmountOverflowException plus = assertThrows(AmountOverflowException.class, () -> Amount.MAX.plus(Amount.of(1)));
    assertTrue(plus.getMessage().contains("overflow"), plus.getMessage());
    assertThrows(AmountOverflowException.class, () -> Amount.MAX.times(2));
    assertThrows(AmountOverflowException.class, () -> Amount.of(1L << 62).times(2));
    assertThrows(AmountOverflowException.class, () -> Amount.of(3).minus(Amount.of(4)));
    assertThrows(AmountOverflowException.class, () -> Amount.of(3).times(-1));
    assertThrows(AmountOverflowException.class, () -> Amount.ofCap(Long.MAX_VALUE / 1000));
    assertThrows(IllegalArgumentException.class, () -> Amount.of(-1));
  }

  @Test
  void textForm() {
    assertEquals("1.234567 CAP", Amount.of(1_234_567).toString());
    assertEquals("0.000001 CAP", Amount.of(1).toString());
    assertEquals("0.000000 CAP", Amount.ZERO.toString());
    assertEquals("9223372036854.775807 CAP", Amount.MAX.toString());
    for (long units : new long[] {0, 1, 999_999, 1_000_000, 1_234_567, Long.MAX_VALUE}) {
      assertEquals(Amount.of(units), Amount.parse(Amount.of(units).toString()));
    }
    assertThrows(IllegalArgumentException.class, () -> Amount.parse("1.5 CAP"));
    assertThrows(IllegalArgumentException.class, () -> Amount.parse("-1.000000 CAP"));
    assertThrows(IllegalArgumentException.class, () -> Amount.parse("1.000000 SC"));
  }
}
