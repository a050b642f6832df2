package dev.capsulevm.proofs.privacy;

import static dev.capsulevm.proofs.privacy.PrivacyFixture.filled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.privacy.PrivacyFixture.Member;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.crypto.hpke.HPKE;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
import org.junit.jupiter.api.Test;

/**
 * Recomputes every {@code vector privacy.*} line of docs/FORMAT.md ("Private capsules: encryption"), and
 * decrypts the documented bytes again from the document's own values. The inputs are fixed: epoch secret 32
 * bytes 0x05, previous epoch secret 32 x 0x08, the member is the example writer (Ed25519 seed 32 x 0x02)
 * with the X25519 key 32 x 0x03 (as in the access example), the wrap's ephemeral key 32 x 0x07, the record's
 * 32 x 0x06; the record is at height 1 by the writer in a stand-in capsule id of 32 x 0x0a. Run {@link
 * #main} to print the lines afresh after a deliberate change.
 */
class PrivacyFormatTest {
  private static final HexFormat HEX = HexFormat.of();
  static final Hash CAPSULE = Hash.copyOf(filled(0x0a));
  static final long HEIGHT = 1;
  static final List<String> PLAINTEXTS = List.of("hello", "private marker 2");

  static Map<String, String> compute() {
    Map<String, String> v = new LinkedHashMap<>();
    HPKE hpke = Suite.hpke();
    Member member = PrivacyFixture.member(2, 3);
    EpochSecret epoch = EpochSecret.fromBytes(filled(5));
    EpochSecret previous = EpochSecret.fromBytes(filled(8));

    v.put("privacy.epoch.private-key", HEX.formatHex(hpke.serializePrivateKey(epoch.keyPair().getPrivate())));
    v.put("privacy.epoch.key", epoch.epochKey().toHex());

    Keystore.Entry entry = epoch.wrapFor(member.key(), member.x25519Public(), member.card(), x25519(7));
    v.put("privacy.wrap.info", HEX.formatHex(
        Suite.concat(Suite.EPOCH_INFO, epoch.epochKey().toByteArray(), member.key().toByteArray())));
    v.put("privacy.wrap.enc", HEX.formatHex(entry.enc()));
    v.put("privacy.wrap.wrapped", HEX.formatHex(entry.wrapped()));
    v.put("privacy.wrap.entry", HEX.formatHex(Suite.concat(entry.member().toByteArray(), entry.x25519(),
        entry.cardSignature().toByteArray(), entry.enc(), entry.wrapped())));

    Keystore.PreviousLink link = epoch.sealPrevious(previous);
    byte[] linkInfo = Suite.concat(Suite.PREVIOUS_INFO, previous.epochKey().toByteArray(), epoch.epochKey().toByteArray());
    v.put("privacy.previous.epoch-key", previous.epochKey().toHex());
    v.put("privacy.previous.info", HEX.formatHex(linkInfo));
    v.put("privacy.previous.k", HEX.formatHex(Suite.hkdf(epoch.toBytes(), linkInfo)));
    v.put("privacy.previous.sealed", HEX.formatHex(link.sealed()));

    RecordCipher writer = RecordCipher.forWriter(epoch.epochKey(), CAPSULE, member.key(), HEIGHT, x25519(6));
    byte[] info = ByteBuffer.allocate(19 + 32 + 32 + 8).put(Suite.RECORD_INFO).put(CAPSULE.toByteArray())
        .put(member.key().toByteArray()).putLong(HEIGHT).array();
    v.put("privacy.record.info", HEX.formatHex(info));
    v.put("privacy.record.enc", HEX.formatHex(writer.enc()));
    v.put("privacy.record.dek", HEX.formatHex(hpke.setupBaseR(writer.enc(), epoch.keyPair(), info)
        .export(Suite.DEK_CONTEXT, 32)));
    for (int i = 0; i < PLAINTEXTS.size(); i++) {
      v.put("privacy.record.nonce(" + i + ")", HEX.formatHex(ByteBuffer.allocate(12).putInt(0).putLong(i).array()));
      v.put("privacy.record.payload(" + i + ")", HEX.formatHex(writer.seal(i, bytes(PLAINTEXTS.get(i)))));
    }
    return v;
  }

  /** The X25519 key pair whose private key is 32 bytes of {@code fill}. */
  private static AsymmetricCipherKeyPair x25519(int fill) {
    X25519PrivateKeyParameters key = new X25519PrivateKeyParameters(filled(fill), 0);
    return new AsymmetricCipherKeyPair(key.generatePublicKey(), key);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  static Map<String, String> documented() throws Exception {
    Path doc = Path.of("..", "docs", "FORMAT.md");
    assertTrue(Files.exists(doc), "docs/FORMAT.md is part of the project");
    Map<String, String> documented = new LinkedHashMap<>();
    for (String line : Files.readAllLines(doc)) {
      if (line.startsWith("vector privacy.")) {
        int eq = line.indexOf(" = ");
        documented.put(line.substring(7, eq).trim(), line.substring(eq + 3).trim());
      }
    }
    return documented;
  }

  @Test
  void formatDocument_privacyVectorsMatchTheCode() throws Exception {
    assertEquals(compute(), documented());
  }

  /** What a reader in another language does with the document alone: every documented ciphertext opens. */
  @Test
  void theDocumentedBytesOpenWithTheDocumentedKeys() throws Exception {
    Map<String, String> doc = documented();
    Member member = PrivacyFixture.member(2, 3);
    EpochKey epochKey = EpochKey.fromHex(doc.get("privacy.epoch.key"));
    byte[] entry = HEX.parseHex(doc.get("privacy.wrap.entry"));
    assertEquals(Keystore.ENTRY_LENGTH, entry.length);
    Keystore.Entry parsed = new Keystore.Entry(PublicKey.copyOf(entry, 0, 32), slice(entry, 32, 32),
        dev.capsulevm.proofs.crypto.Signature.copyOf(entry, 64, 64), slice(entry, 128, 32), slice(entry, 160, 48));
    assertTrue(parsed.cardVerifies());
    EpochSecret epoch = EpochSecret.unwrap(parsed, epochKey, member.x25519());
    assertArrayEquals(filled(5), epoch.toBytes());

    EpochSecret previous = epoch.openPrevious(new Keystore.PreviousLink(
        EpochKey.fromHex(doc.get("privacy.previous.epoch-key")), HEX.parseHex(doc.get("privacy.previous.sealed"))));
    assertArrayEquals(filled(8), previous.toBytes());

    RecordCipher reader = RecordCipher.forReader(epoch, HEX.parseHex(doc.get("privacy.record.enc")), CAPSULE,
        member.key(), HEIGHT);
    for (int i = 0; i < PLAINTEXTS.size(); i++) {
      assertArrayEquals(bytes(PLAINTEXTS.get(i)), reader.open(i, HEX.parseHex(doc.get("privacy.record.payload(" + i + ")"))));
    }
  }

  private static byte[] slice(byte[] bytes, int offset, int length) {
    return java.util.Arrays.copyOfRange(bytes, offset, offset + length);
  }

  public static void main(String[] args) {
    compute().forEach((name, value) -> System.out.println("vector " + name + " = " + value));
  }
}
