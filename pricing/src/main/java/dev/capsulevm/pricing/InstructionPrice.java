package dev.capsulevm.pricing;

import java.util.Objects;

/** The price of one instruction kind: a base per instruction plus a part per byte it handles. */
public record InstructionPrice(Amount base, Amount perByte) {
  public InstructionPrice {
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(perByte, "perByte");
  }

  /** Convenience for {@code new InstructionPrice(Amount.of(base), Amount.of(perByte))}. */
  public static InstructionPrice of(long baseUnits, long perByteUnits) {
    return new InstructionPrice(Amount.of(baseUnits), Amount.of(perByteUnits));
  }
}
