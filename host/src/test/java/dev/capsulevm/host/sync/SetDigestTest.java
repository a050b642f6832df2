package dev.capsulevm.host.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.capsulevm.proofs.Hash;
import org.junit.jupiter.api.Test;

/** The set fingerprint's bytes, as docs/FORMAT.md ("Replication") gives them. */
class SetDigestTest {
  @Test
  void theEmptySetAndASumThatWrapsMatchTheDocumentedVectors() {
    assertEquals(Hash.fromHex("41e15505684050fd769ddfff7a52686a4f315effbe48105954df74eb7de385c2"),
        new SetDigest().fingerprint());
    SetDigest two = new SetDigest();
    two.add(Hash.fromHex("00".repeat(31) + "01"));
    two.add(Hash.fromHex("ff".repeat(32)));
    // 1 + (2^256 - 1) wraps to 0: the sum is zero, the count 2
    assertEquals(Hash.fromHex("260228f71432255dc8225d2d8f67295544884308288392edf012be8baad476f3"), two.fingerprint());
    assertNotEquals(new SetDigest().fingerprint(), two.fingerprint(), "the count keeps a wrapped sum apart");
  }
}
