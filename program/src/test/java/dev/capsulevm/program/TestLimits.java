package dev.capsulevm.program;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Limits;

final class TestLimits {
  private TestLimits() {}

  static Limits standard() {
    return new Limits(65_536, 256, 8_192, 64, 16, Amount.ofCap(1000));
  }

  static Limits of(int maxProgramBytes, int maxInstructions, int maxRecordBytes) {
    return new Limits(maxProgramBytes, maxInstructions, maxRecordBytes, 64, 16, Amount.ofCap(1000));
  }
}
