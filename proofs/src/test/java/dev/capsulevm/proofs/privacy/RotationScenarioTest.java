package dev.capsulevm.proofs.privacy;

import static dev.capsulevm.proofs.privacy.PrivacyFixture.member;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.privacy.PrivacyFixture.Member;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import org.junit.jupiter.api.Test;

/**
 * The cryptographic side of a removal: epoch 1 is wrapped for Alice and Bob; Bob is removed, and epoch 2
 * is wrapped for Alice alone, with a link back to epoch 1. A member added then (Carol) gets epoch 2 and reads
 * epoch 1's records through the link. Bob keeps what epoch 1 opens, and nothing of epoch 2.
 */
class RotationScenarioTest {
  private static final Hash CAPSULE = Hash.copyOf(PrivacyFixture.filled(0x0a));
  private final SecureRandom random = new SecureRandom();
  private final Member alice = member(2, 3);
  private final Member bob = member(7, 8);
  private final Member carol = member(9, 10);

  @Test
  void aRemovedMemberReadsTheOldEpochOnly_andALaterMemberReadsBothThroughTheLink() throws Exception {
    EpochSecret first = EpochSecret.generate(random);
    Keystore.Entry bobsFirst = bob.wrap(first);
    RecordCipher before = RecordCipher.forWriter(first.epochKey(), CAPSULE, alice.key(), 1, random);
    byte[] oldPayload = before.seal(0, bytes("before the removal"));

    EpochSecret second = EpochSecret.generate(random);
    Keystore.Entry alicesSecond = alice.wrap(second);
    Keystore.PreviousLink link = second.sealPrevious(first);
    RecordCipher after = RecordCipher.forWriter(second.epochKey(), CAPSULE, alice.key(), 3, random);
    byte[] newPayload = after.seal(0, bytes("after the removal"));

    // Bob still reads what was written under the epoch he held.
    EpochSecret bobsKey = EpochSecret.unwrap(bobsFirst, first.epochKey(), bob.x25519());
    assertArrayEquals(bytes("before the removal"),
        RecordCipher.forReader(bobsKey, before.enc(), CAPSULE, alice.key(), 1).open(0, oldPayload));
    // Epoch 2 has no entry for him; Alice's does not open with his key; his secret does not open epoch 2's
    // records; and the link leads from epoch 2 to epoch 1 only.
    assertEquals(DecryptionException.Reason.NOT_FOR_YOU, assertThrows(DecryptionException.class,
        () -> EpochSecret.unwrap(alicesSecond, second.epochKey(), bob.x25519())).reason());
    assertThrows(DecryptionException.class,
        () -> RecordCipher.forReader(bobsKey, after.enc(), CAPSULE, alice.key(), 3).open(0, newPayload));
    assertThrows(DecryptionException.class, () -> bobsKey.openPrevious(link));

    // Carol, added under epoch 2, reads both epochs.
    Keystore.Entry carolsSecond = carol.wrap(EpochSecret.unwrap(alicesSecond, second.epochKey(), alice.x25519()));
    EpochSecret carolsKey = EpochSecret.unwrap(carolsSecond, second.epochKey(), carol.x25519());
    assertArrayEquals(bytes("after the removal"),
        RecordCipher.forReader(carolsKey, after.enc(), CAPSULE, alice.key(), 3).open(0, newPayload));
    EpochSecret carolsOld = carolsKey.openPrevious(link);
    assertArrayEquals(bytes("before the removal"),
        RecordCipher.forReader(carolsOld, before.enc(), CAPSULE, alice.key(), 1).open(0, oldPayload));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
