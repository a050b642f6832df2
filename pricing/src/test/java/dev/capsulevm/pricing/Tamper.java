package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.fail;

import dev.capsulevm.proofs.VerificationException;

/** Flips every byte of an encoding, one at a time, and demands that parsing or verifying fails. */
final class Tamper {
  private Tamper() {}

  interface ParseAndVerify {
    void run(byte[] bytes) throws VerificationException, PricingException;
  }

  static void everyByteBreaks(byte[] good, ParseAndVerify check) {
    for (int i = 0; i < good.length; i++) {
      for (int mask : new int[] {0x01, 0x80}) {
        byte[] bad = good.clone();
        bad[i] ^= (byte) mask;
        try {
          check.run(bad);
          fail("flipping byte " + i + " with mask " + mask + " still verified");
        } catch (VerificationException | PricingException expected) {
          // the tampered bytes were refused
        }
      }
    }
  }
}
