package dev.capsulevm.renter.access;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.Arrays;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class MemberCardTest {
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

  private final SigningKey identity = SigningKey.generate();
  private final EncryptionKey encryption = EncryptionKey.generate();
  private final MemberCard card = MemberCard.create(identity, encryption);

  @Test
  void aCardRoundTripsThroughItsText() throws Exception {
    String text = card.toString();
    assertTrue(text.startsWith("cvm-member1:"), text);
    assertEquals(MemberCard.PREFIX.length() + 171, text.length(), "128 bytes are 171 base64url characters");
    MemberCard parsed = MemberCard.parse(text);
    assertEquals(card, parsed);
    assertEquals(identity.publicKey(), parsed.identity());
    assertArrayEquals(encryption.publicKey(), parsed.encryptionKey());
    String wrapped = "  " + text.substring(0, 60) + "\n  " + text.substring(60) + "\n";
    assertEquals(card, MemberCard.parse(wrapped), "mail wrapping is ignored");
  }

  @Test
  void aWrongPrefixIsNamed() {
    String body = card.toString().substring(MemberCard.PREFIX.length());
    assertEquals("not a member card: it must start with cvm-member1:",
        assertThrows(AccessException.class, () -> MemberCard.parse("cvm-member2:" + body)).getMessage());
    assertThrows(AccessException.class, () -> MemberCard.parse(identity.publicKey().toHex()));
  }

  @Test
  void badBase64IsNamed() {
    String text = card.toString();
    String bad = text.substring(0, 30) + "+" + text.substring(31);
    assertTrue(assertThrows(AccessException.class, () -> MemberCard.parse(bad)).getMessage()
        .startsWith("member card is damaged (not base64url"));
  }

  @Test
  void aWrongLengthIsNamed() {
    byte[] bytes = card.encoded();
    String shorter = MemberCard.PREFIX + B64.encodeToString(Arrays.copyOf(bytes, 96));
    assertEquals("a member card is 128 bytes, got 96 (truncated)",
        assertThrows(AccessException.class, () -> MemberCard.parse(shorter)).getMessage());
    String longer = MemberCard.PREFIX + B64.encodeToString(Arrays.copyOf(bytes, 129));
    assertEquals("a member card is 128 bytes, got 129",
        assertThrows(AccessException.class, () -> MemberCard.parse(longer)).getMessage());
    String cut = card.toString().substring(0, card.toString().length() - 3);
    assertTrue(assertThrows(AccessException.class, () -> MemberCard.parse(cut)).getMessage().contains("truncated"));
  }

  /** Another encryption key under the same identity, or any flipped bit: the signature no longer holds. */
  @Test
  void aSwappedEncryptionKeyOrAnyFlippedBitIsRefused() {
    byte[] swapped = card.encoded();
    System.arraycopy(EncryptionKey.generate().publicKey(), 0, swapped, 32, 32);
    assertEquals("member card's signature does not verify under its identity key " + identity.publicKey().toHex(),
        assertThrows(AccessException.class,
            () -> MemberCard.parse(MemberCard.PREFIX + B64.encodeToString(swapped))).getMessage());
    for (int bit = 0; bit < MemberCard.LENGTH * 8; bit++) {
      byte[] flipped = card.encoded();
      flipped[bit / 8] ^= (byte) (1 << (bit % 8));
      String text = MemberCard.PREFIX + B64.encodeToString(flipped);
      assertThrows(AccessException.class, () -> MemberCard.parse(text), "bit " + bit);
    }
  }

  @Test
  void theSignatureCoversTheTagAndBothKeys() {
    byte[] signed = new byte[65];
    signed[0] = 0x51;
    identity.publicKey().copyTo(signed, 1);
    System.arraycopy(encryption.publicKey(), 0, signed, 33, 32);
    byte[] message = Arrays.copyOfRange(signed, 1, 65);
    assertTrue(identity.publicKey().verify(dev.capsulevm.proofs.Domain.MEMBER_CARD_SIGNATURE, message,
        card.signature()));
    assertEquals(0x51, dev.capsulevm.proofs.Domain.MEMBER_CARD_SIGNATURE.tag());
    assertEquals(0x50, dev.capsulevm.proofs.Domain.ACCESS_CHECKSUM.tag());
  }
}
