package dev.capsulevm.renter.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AccessStringTest {
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder UNB64 = Base64.getUrlDecoder();

  private final SigningKey creator = SigningKey.generate();
  private final SignedMetadata metadata = SignedMetadata.sign(Metadata.create(creator.publicKey(),
      1_700_000_000_000L, SigningPolicy.EVERY_RECORD, 16, 4096, Map.of(SigningKey.generate().publicKey(), 3),
      "shared"), creator);
  private final AccessString access = AccessString.of(List.of("127.0.0.1:7420", "replica.example.org:7421"),
      metadata.capsuleId(), creator.publicKey());

  private final SigningKey member = SigningKey.generate();
  private final EncryptionKey memberKey = EncryptionKey.generate();
  private final MemberCard card = MemberCard.create(member, memberKey);

  private static AccessException refused(String text) {
    return assertThrows(AccessException.class, () -> AccessString.parse(text));
  }

  @Test
  void aPlainStringRoundTripsAndItsBytesAreTheDocumentedLayout() throws Exception {
    String text = access.toString();
    assertTrue(text.startsWith("cvm-access1:"), text);
    assertEquals(access, AccessString.parse(text));
    assertEquals(access, AccessString.parse(" " + text.substring(0, 40) + "\r\n " + text.substring(40) + "\n"));
    byte[] bytes = UNB64.decode(text.substring(12));
    byte[] body = access.body();
    assertEquals(1 + 32 + 32 + 1 + (1 + 14) + (1 + 24), body.length);
    assertEquals(1, body[0]);
    assertEquals(metadata.capsuleId(), Hash.copyOf(body, 1, 32));
    assertEquals(2, body[65]);
    assertEquals(14, body[66]);
    assertEquals(body.length + 4, bytes.length);
    assertEquals(HexFormat.of().formatHex(Arrays.copyOf(Sha256.hash(dev.capsulevm.proofs.Domain.ACCESS_CHECKSUM,
        body).toByteArray(), 4)), HexFormat.of().formatHex(bytes, body.length, bytes.length));
    access.check(metadata);
  }

  @Test
  void aTruncatedStringIsCalledTruncatedWhereverItIsCut() {
    String text = access.toString();
    for (int keep = 0; keep < text.length(); keep++) {
      String cut = text.substring(0, keep);
      AccessException e = refused(cut);
      if (keep >= AccessString.PREFIX.length()) {
        assertEquals("access string is truncated", e.getMessage(), "cut to " + keep + " characters");
      }
    }
  }

  @Test
  void aDamagedStringIsCaughtByItsChecksum() {
    byte[] bytes = access.encoded();
    // Every single-bit change of the hosts or the ids that leaves the layout intact is damage.
    for (int bit = 0; bit < bytes.length * 8; bit++) {
      byte[] flipped = bytes.clone();
      flipped[bit / 8] ^= (byte) (1 << (bit % 8));
      String text = AccessString.PREFIX + B64.encodeToString(flipped);
      AccessException e = refused(text);
      assertTrue(e.getMessage().startsWith("access string is damaged") || e.getMessage().equals(
          "access string is truncated"), "bit " + bit + ": " + e.getMessage());
    }
    byte[] creatorByte = bytes.clone();
    creatorByte[40] ^= 1;
    assertEquals("access string is damaged (checksum)",
        refused(AccessString.PREFIX + B64.encodeToString(creatorByte)).getMessage());
    String text = access.toString();
    char last = text.charAt(text.length() - 1);
    String swapped = text.substring(0, text.length() - 1) + (last == 'A' ? 'B' : 'A');
    assertTrue(refused(swapped).getMessage().startsWith("access string is damaged"), swapped);
    byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
    assertEquals("access string is damaged (1 bytes after the checksum)",
        refused(AccessString.PREFIX + B64.encodeToString(longer)).getMessage());
  }

  @Test
  void unknownPrefixesAndVersionsAreNamed() {
    String payload = access.toString().substring(AccessString.PREFIX.length());
    assertTrue(refused("cvm-access2:" + payload).getMessage().startsWith("unknown access string version"));
    assertTrue(refused("https://example.org/" + payload).getMessage().startsWith("not an access string"));
    assertTrue(refused(access.seal(card)).getMessage().contains("sealed"));
    byte[] body = access.body();
    body[0] = 2;
    byte[] v2 = Arrays.copyOf(body, body.length + 4);
    System.arraycopy(AccessString.checksum(body), 0, v2, body.length, 4);
    assertEquals("unknown access string version 2", refused(AccessString.PREFIX + B64.encodeToString(v2)).getMessage());
  }

  @Test
  void hostListsAreChecked() {
    List<String> seventeen = new ArrayList<>();
    for (int i = 0; i < 17; i++) {
      seventeen.add("h" + i + ":1");
    }
    assertThrows(IllegalArgumentException.class, () -> AccessString.of(seventeen, metadata.capsuleId(),
        creator.publicKey()));
    assertThrows(IllegalArgumentException.class, () -> AccessString.of(List.of(), metadata.capsuleId(),
        creator.publicKey()));
    for (String bad : List.of("localhost", "localhost:0", "localhost:65536", "localhost:07420", ":7420",
        "a b:1", "::1:7420", "x".repeat(251) + ":7420")) {
      assertThrows(IllegalArgumentException.class,
          () -> AccessString.of(List.of(bad), metadata.capsuleId(), creator.publicKey()), bad);
    }
    AccessString.of(List.of("[::1]:7420", "höst.example:1", "10.0.0.1:65535"), metadata.capsuleId(),
        creator.publicKey());
    // A string whose checksum is right but whose body lists no host (made by hand) is refused too.
    byte[] body = Arrays.copyOf(access.body(), 66);
    body[65] = 0;
    byte[] none = Arrays.copyOf(body, 70);
    System.arraycopy(AccessString.checksum(body), 0, none, 66, 4);
    assertEquals("access string: an access string lists 1 to 16 hosts, not 0",
        refused(AccessString.PREFIX + B64.encodeToString(none)).getMessage());
  }

  @Test
  void aSealedStringOpensOnlyForItsMember() throws Exception {
    String sealed = access.seal(card);
    assertTrue(AccessString.isSealed(sealed), sealed);
    assertTrue(sealed.startsWith("cvm-sealed1:"), sealed);
    assertEquals(access, AccessString.open(sealed, member, memberKey));
    assertNotEquals(sealed, access.seal(card), "a fresh ephemeral key each time");
    assertEquals(access, AccessString.open(access.toString(), member, memberKey), "a plain string opens as is");
    byte[] bytes = UNB64.decode(sealed.substring(12));
    assertEquals(1 + 32 + 32 + access.encoded().length + 16, bytes.length);
    assertEquals(member.publicKey(), dev.capsulevm.proofs.crypto.PublicKey.copyOf(bytes, 1, 32));

    SigningKey someoneElse = SigningKey.generate();
    assertEquals("sealed to member " + member.publicKey().toHex() + ", not to you ("
        + someoneElse.publicKey().toHex() + ")", assertThrows(AccessException.class,
            () -> AccessString.open(sealed, someoneElse, EncryptionKey.generate())).getMessage());
    // The member's identity with another encryption key (a card made elsewhere): it does not decrypt.
    assertTrue(assertThrows(AccessException.class, () -> AccessString.open(sealed, member, EncryptionKey.generate()))
        .getMessage().startsWith("sealed access string is damaged"));
  }

  @Test
  void aTamperedSealedStringIsRefused() {
    byte[] bytes = UNB64.decode(access.seal(card).substring(12));
    for (int i = 0; i < bytes.length; i++) {
      byte[] tampered = bytes.clone();
      tampered[i] ^= 0x10;
      String text = AccessString.SEALED_PREFIX + B64.encodeToString(tampered);
      AccessException e = assertThrows(AccessException.class, () -> AccessString.open(text, member, memberKey),
          "byte " + i);
      if (i == 0) {
        assertEquals("unknown sealed access string version 17", e.getMessage());
      } else if (i <= 32) {
        assertTrue(e.getMessage().startsWith("sealed to member "), e.getMessage());
      } else {
        assertTrue(e.getMessage().startsWith("sealed access string is damaged"), e.getMessage());
      }
    }
    byte[] cut = Arrays.copyOf(bytes, 100);
    assertEquals("sealed access string is truncated", assertThrows(AccessException.class,
        () -> AccessString.open(AccessString.SEALED_PREFIX + B64.encodeToString(cut), member, memberKey)).getMessage());
  }

  /** The "for another capsule" cases: what a host serves for the id must be that capsule's, by that creator. */
  @Test
  void metadataOfAnotherCapsuleOrCreatorIsRefused() {
    SignedMetadata other = SignedMetadata.sign(Metadata.create(creator.publicKey(), 1_700_000_000_001L,
        SigningPolicy.EVERY_RECORD, 16, 4096, Map.of(), "other"), creator);
    AccessException wrongCapsule = assertThrows(AccessException.class, () -> access.check(other));
    assertEquals("the metadata served is of capsule " + other.capsuleId().toHex() + ", not of the access string's"
        + " capsule " + metadata.capsuleId().toHex(), wrongCapsule.getMessage());

    SigningKey impostor = SigningKey.generate();
    AccessString wrongCreator = AccessString.of(access.hosts(), metadata.capsuleId(), impostor.publicKey());
    AccessException e = assertThrows(AccessException.class, () -> wrongCreator.check(metadata));
    assertEquals("capsule " + metadata.capsuleId().toHex() + " was created by " + creator.publicKey().toHex()
        + ", not by the access string's creator " + impostor.publicKey().toHex()
        + " (a wrong or altered access string)", e.getMessage());
  }
}
