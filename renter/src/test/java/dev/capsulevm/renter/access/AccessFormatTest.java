package dev.capsulevm.renter.access;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.pricing.FormatDocument;
import dev.capsulevm.pricing.FormatDocument.Field;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Recomputes docs/FORMAT.md's "Access strings and member cards" examples: the card of the example writer
 * key (seed 32 x 0x02) with the X25519 key of 32 bytes 0x03, a plain string for the example capsule (its id
 * and creator are the document's own vectors) on two hosts, and that string sealed to the card with the
 * ephemeral X25519 key of 32 bytes 0x04. Every {@code vector member-card.*} and {@code vector access.*}
 * line and the two byte tables must be what the code makes, and the examples must open again.
 */
class AccessFormatTest {
  private static final HexFormat HEX = HexFormat.of();

  @Test
  void theDocumentedExamplesAreWhatTheCodeMakes() throws Exception {
    Map<String, String> doc = FormatDocument.vectors();
    Example e = example(doc);
    Map<String, String> documented = new TreeMap<>();
    doc.forEach((name, value) -> {
      if (name.startsWith("member-card.") || name.startsWith("access.")) {
        documented.put(name, value);
      }
    });
    assertEquals(FormatDocument.vectorLines(new TreeMap<>(e.vectors)), FormatDocument.vectorLines(documented));
    FormatDocument.assertContains("member card table", e.cardRows);
    FormatDocument.assertContains("plain access string table", e.plainRows);

    assertEquals(e.card, MemberCard.parse(e.vectors.get("member-card.text")));
    assertEquals(e.access, AccessString.parse(e.vectors.get("access.plain")));
    assertEquals(e.access, AccessString.open(e.vectors.get("access.sealed"), e.member, e.memberKey));
  }

  private record Example(SigningKey member, EncryptionKey memberKey, MemberCard card, AccessString access,
      Map<String, String> vectors, String cardRows, String plainRows) {}

  private static Example example(Map<String, String> doc) {
    SigningKey member = SigningKey.fromSeed(filled(2));
    EncryptionKey memberKey = EncryptionKey.fromPrivateBytes(filled(3));
    MemberCard card = MemberCard.create(member, memberKey);
    AccessString access = AccessString.of(List.of("127.0.0.1:7420", "replica.example.org:7420"),
        Hash.fromHex(doc.get("capsule.id")), PublicKey.fromHex(doc.get("key.creator.public")));
    EncryptionKey ephemeral = EncryptionKey.fromPrivateBytes(filled(4));
    String sealed = access.seal(card, ephemeral);

    byte[] body = access.body();
    Map<String, String> v = new TreeMap<>();
    v.put("member-card.x25519.public", HEX.formatHex(memberKey.publicKey()));
    v.put("member-card.signature", card.signature().toHex());
    v.put("member-card.text", card.toString());
    v.put("access.body", HEX.formatHex(body));
    v.put("access.checksum", HEX.formatHex(AccessString.checksum(body)));
    v.put("access.plain", access.toString());
    v.put("access.sealed.enc", HEX.formatHex(ephemeral.publicKey()));
    v.put("access.sealed", sealed);

    String cardRows = FormatDocument.rows(card.encoded(), List.of(new Field(32, "ed25519 identity"),
        new Field(32, "x25519 public key"), new Field(64, "signature")));
    String plainRows = FormatDocument.rows(access.encoded(), List.of(new Field(1, "version"),
        new Field(32, "capsule id"), new Field(32, "creator"), new Field(1, "host count H"),
        new Field(1, "host 1 length"), new Field(14, "host 1 (`127.0.0.1:7420`)"), new Field(1, "host 2 length"),
        new Field(24, "host 2 (`replica.example.org:7420`)"), new Field(4, "checksum")));
    return new Example(member, memberKey, card, access, v, cardRows, plainRows);
  }

  private static byte[] filled(int value) {
    byte[] bytes = new byte[32];
    Arrays.fill(bytes, (byte) value);
    return bytes;
  }

  public static void main(String[] args) {
    Example e = example(FormatDocument.vectors());
    System.out.print(FormatDocument.vectorLines(e.vectors));
    System.out.print(e.cardRows);
    System.out.print(e.plainRows);
  }
}
