package dev.capsulevm.proofs.privacy;

import static dev.capsulevm.proofs.privacy.PrivacyFixture.filled;
import static dev.capsulevm.proofs.privacy.PrivacyFixture.flipped;
import static dev.capsulevm.proofs.privacy.PrivacyFixture.member;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.privacy.DecryptionException.Reason;
import dev.capsulevm.proofs.privacy.PrivacyFixture.Member;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.bouncycastle.crypto.hpke.HPKE;
import org.bouncycastle.crypto.hpke.HPKEContextWithEncapsulation;
import org.junit.jupiter.api.Test;

class EpochSecretTest {
  private static final HexFormat HEX = HexFormat.of();
  private final SecureRandom random = new SecureRandom();
  private final Member alice = member(2, 3);
  private final Member bob = member(7, 8);

  @Test
  void epochKey_isThePublicHalfOfTheDerivedKeyPairAndTheSecretDeterminesIt() {
    EpochSecret secret = EpochSecret.generate(random);
    assertArrayEquals(secret.epochKey().toByteArray(), Suite.hpke().serializePublicKey(secret.keyPair().getPublic()));
    assertEquals(secret.epochKey(), EpochSecret.fromBytes(secret.toBytes()).epochKey());
    assertNotEquals(secret.epochKey(), EpochSecret.generate(random).epochKey());
    assertArrayEquals(Suite.hpke().serializePublicKey(Suite.hpke().deriveKeyPair(filled(5)).getPublic()),
        EpochSecret.fromBytes(filled(5)).epochKey().toByteArray());
  }

  @Test
  void fromBytes_refusesAnotherLength() {
    assertThrows(IllegalArgumentException.class, () -> EpochSecret.fromBytes(new byte[31]));
    assertThrows(IllegalArgumentException.class, () -> EpochSecret.fromBytes(new byte[33]));
  }

  @Test
  void toString_showsTheEpochKeyAndNoSecret() {
    EpochSecret secret = EpochSecret.fromBytes(filled(5));
    assertTrue(secret.toString().contains(secret.epochKey().toHex()));
    assertFalse(secret.toString().contains(HEX.formatHex(filled(5))));
    assertFalse(secret.toString().contains("0505"));
  }

  @Test
  void wrapThenUnwrap_givesTheSecretBackToItsMember() throws Exception {
    EpochSecret secret = EpochSecret.generate(random);
    Keystore.Entry entry = alice.wrap(secret);
    assertEquals(alice.key(), entry.member());
    assertArrayEquals(alice.x25519Public(), entry.x25519());
    assertEquals(alice.card(), entry.cardSignature());
    assertEquals(32, entry.enc().length);
    assertEquals(EpochSecret.SEALED_LENGTH, entry.wrapped().length);
    EpochSecret opened = EpochSecret.unwrap(entry, secret.epochKey(), alice.x25519());
    assertArrayEquals(secret.toBytes(), opened.toBytes());
    assertEquals(secret.epochKey(), opened.epochKey());
  }

  @Test
  void wrapFor_usesAFreshEphemeralKeyEveryTime() {
    EpochSecret secret = EpochSecret.generate(random);
    assertFalse(java.util.Arrays.equals(alice.wrap(secret).enc(), alice.wrap(secret).enc()));
  }

  @Test
  void unwrap_ofAnEntryForSomeoneElse_saysSoAndTriesNothing() {
    EpochSecret secret = EpochSecret.generate(random);
    Keystore.Entry forBob = bob.wrap(secret);
    DecryptionException e = assertThrows(DecryptionException.class,
        () -> EpochSecret.unwrap(forBob, secret.epochKey(), alice.x25519()));
    assertEquals(Reason.NOT_FOR_YOU, e.reason());
    assertTrue(e.getMessage().contains(bob.key().toHex()), e.getMessage());
    assertTrue(e.getMessage().contains("not for yours"), e.getMessage());
  }

  @Test
  void unwrap_ofAnEntryRelabelledWithMyKeys_doesNotDecrypt() {
    EpochSecret secret = EpochSecret.generate(random);
    Keystore.Entry forBob = bob.wrap(secret);
    // Bob's wrap, claimed to be Alice's: x25519 swapped in, and then her identity too.
    Keystore.Entry mine = new Keystore.Entry(bob.key(), alice.x25519Public(), alice.card(), forBob.enc(), forBob.wrapped());
    Keystore.Entry fullyMine = new Keystore.Entry(alice.key(), alice.x25519Public(), alice.card(), forBob.enc(), forBob.wrapped());
    for (Keystore.Entry entry : new Keystore.Entry[] {mine, fullyMine}) {
      DecryptionException e = assertThrows(DecryptionException.class,
          () -> EpochSecret.unwrap(entry, secret.epochKey(), alice.x25519()));
      assertEquals(Reason.DOES_NOT_DECRYPT, e.reason());
    }
  }

  @Test
  void unwrap_underAnotherEpochKeyOrMember_doesNotDecrypt() {
    EpochSecret secret = EpochSecret.generate(random);
    Keystore.Entry entry = alice.wrap(secret);
    EpochKey other = EpochSecret.generate(random).epochKey();
    assertEquals(Reason.DOES_NOT_DECRYPT, assertThrows(DecryptionException.class,
        () -> EpochSecret.unwrap(entry, other, alice.x25519())).reason());
    // The member is in the HPKE info: an entry moved to another identity with the same x25519 key fails.
    Keystore.Entry moved = new Keystore.Entry(bob.key(), entry.x25519(), entry.cardSignature(), entry.enc(), entry.wrapped());
    assertEquals(Reason.DOES_NOT_DECRYPT, assertThrows(DecryptionException.class,
        () -> EpochSecret.unwrap(moved, secret.epochKey(), alice.x25519())).reason());
  }

  @Test
  void unwrap_ofAnyChangedByteOfEncOrWrapped_failsAndNeverReturnsASecret() {
    EpochSecret secret = EpochSecret.generate(random);
    Keystore.Entry entry = alice.wrap(secret);
    for (int i = 0; i < 32; i++) {
      Keystore.Entry changed = new Keystore.Entry(entry.member(), entry.x25519(), entry.cardSignature(),
          flipped(entry.enc(), i), entry.wrapped());
      assertEquals(Reason.DOES_NOT_DECRYPT, assertThrows(DecryptionException.class,
          () -> EpochSecret.unwrap(changed, secret.epochKey(), alice.x25519()), "enc byte " + i).reason());
    }
    for (int i = 0; i < EpochSecret.SEALED_LENGTH; i++) {
      Keystore.Entry changed = new Keystore.Entry(entry.member(), entry.x25519(), entry.cardSignature(),
          entry.enc(), flipped(entry.wrapped(), i));
      assertEquals(Reason.DOES_NOT_DECRYPT, assertThrows(DecryptionException.class,
          () -> EpochSecret.unwrap(changed, secret.epochKey(), alice.x25519()), "wrapped byte " + i).reason());
    }
    // X25519 ignores the top bit of a public key, but enc is also in HPKE's KEM context.
    byte[] topBit = entry.enc();
    topBit[31] ^= (byte) 0x80;
    Keystore.Entry changed = new Keystore.Entry(entry.member(), entry.x25519(), entry.cardSignature(), topBit, entry.wrapped());
    assertThrows(DecryptionException.class, () -> EpochSecret.unwrap(changed, secret.epochKey(), alice.x25519()));
  }

  @Test
  void unwrap_withTheWrongPrivateKey_fails() {
    EpochSecret secret = EpochSecret.generate(random);
    Keystore.Entry entry = alice.wrap(secret);
    Member impostor = member(2, 9); // Alice's identity, another x25519 key
    assertEquals(Reason.NOT_FOR_YOU, assertThrows(DecryptionException.class,
        () -> EpochSecret.unwrap(entry, secret.epochKey(), impostor.x25519())).reason());
  }

  @Test
  void unwrap_ofAWrapWhoseSecretIsAnotherEpochs_isRefused() throws Exception {
    // An admin wraps secret B under the info of epoch A (to give members different keys for one epoch).
    EpochSecret a = EpochSecret.generate(random);
    EpochSecret b = EpochSecret.generate(random);
    HPKE hpke = Suite.hpke();
    byte[] info = Suite.concat(Suite.EPOCH_INFO, a.epochKey().toByteArray(), alice.key().toByteArray());
    HPKEContextWithEncapsulation context = hpke.setupBaseS(hpke.deserializePublicKey(alice.x25519Public()), info);
    Keystore.Entry forged = new Keystore.Entry(alice.key(), alice.x25519Public(), alice.card(),
        context.getEncapsulation(), context.seal(new byte[0], b.toBytes()));
    DecryptionException e = assertThrows(DecryptionException.class,
        () -> EpochSecret.unwrap(forged, a.epochKey(), alice.x25519()));
    assertEquals(Reason.WRONG_EPOCH_SECRET, e.reason());
    assertTrue(e.getMessage().contains("does not open epoch " + a.epochKey().toHex()), e.getMessage());
    assertFalse(e.getMessage().contains(HEX.formatHex(b.toBytes())), e.getMessage());
  }

  @Test
  void wrapFor_refusesAKeyNothingCanBeSealedTo() {
    EpochSecret secret = EpochSecret.generate(random);
    assertThrows(IllegalArgumentException.class, () -> secret.wrapFor(alice.key(), new byte[32], alice.card()));
    assertThrows(IllegalArgumentException.class, () -> secret.wrapFor(alice.key(), new byte[31], alice.card()));
  }

  @Test
  void previousLink_opensWithTheNewSecretOnly() throws Exception {
    EpochSecret old = EpochSecret.generate(random);
    EpochSecret current = EpochSecret.generate(random);
    Keystore.PreviousLink link = current.sealPrevious(old);
    assertEquals(old.epochKey(), link.epochKey());
    assertEquals(EpochSecret.SEALED_LENGTH, link.sealed().length);
    assertArrayEquals(old.toBytes(), current.openPrevious(link).toBytes());

    EpochSecret stranger = EpochSecret.generate(random);
    assertEquals(Reason.DOES_NOT_DECRYPT,
        assertThrows(DecryptionException.class, () -> stranger.openPrevious(link)).reason());
    // The link is bound to both epoch keys: relabelled to another previous epoch, it fails.
    Keystore.PreviousLink relabelled = new Keystore.PreviousLink(stranger.epochKey(), link.sealed());
    assertEquals(Reason.DOES_NOT_DECRYPT,
        assertThrows(DecryptionException.class, () -> current.openPrevious(relabelled)).reason());
  }

  @Test
  void previousLink_withAnyChangedByte_fails() {
    EpochSecret old = EpochSecret.generate(random);
    EpochSecret current = EpochSecret.generate(random);
    Keystore.PreviousLink link = current.sealPrevious(old);
    for (int i = 0; i < EpochSecret.SEALED_LENGTH; i++) {
      Keystore.PreviousLink changed = new Keystore.PreviousLink(link.epochKey(), flipped(link.sealed(), i));
      assertEquals(Reason.DOES_NOT_DECRYPT,
          assertThrows(DecryptionException.class, () -> current.openPrevious(changed), "byte " + i).reason());
    }
    byte[] key = link.epochKey().toByteArray();
    for (int i = 0; i < EpochKey.LENGTH; i++) {
      Keystore.PreviousLink changed = new Keystore.PreviousLink(EpochKey.copyOf(flipped(key, i)), link.sealed());
      assertThrows(DecryptionException.class, () -> current.openPrevious(changed), "epoch key byte " + i);
    }
  }

  @Test
  void previousLink_holdingAnotherEpochsSecret_isRefused() {
    // Well encrypted under the right key, but what it holds is not the previous epoch's secret.
    EpochSecret old = EpochSecret.generate(random);
    EpochSecret other = EpochSecret.generate(random);
    EpochSecret current = EpochSecret.generate(random);
    byte[] key = Suite.hkdf(current.toBytes(),
        Suite.concat(Suite.PREVIOUS_INFO, old.epochKey().toByteArray(), current.epochKey().toByteArray()));
    byte[] sealed = Suite.seal(key, new byte[12], other.toBytes(), 0, 32);
    DecryptionException e = assertThrows(DecryptionException.class,
        () -> current.openPrevious(new Keystore.PreviousLink(old.epochKey(), sealed)));
    assertEquals(Reason.WRONG_EPOCH_SECRET, e.reason());
  }

  @Test
  void sealPrevious_refusesALinkToItself() {
    EpochSecret secret = EpochSecret.generate(random);
    assertThrows(IllegalArgumentException.class, () -> secret.sealPrevious(EpochSecret.fromBytes(secret.toBytes())));
  }

  @Test
  void destroy_zeroesTheSecretAndRefusesLaterUse() {
    EpochSecret secret = EpochSecret.generate(random);
    EpochKey key = secret.epochKey();
    secret.destroy();
    assertTrue(secret.isDestroyed());
    assertThrows(IllegalStateException.class, secret::toBytes);
    assertThrows(IllegalStateException.class, () -> alice.wrap(secret));
    assertThrows(IllegalStateException.class, secret::keyPair);
    assertEquals(key, secret.epochKey());
    assertTrue(secret.toString().contains("destroyed"));
  }
}
