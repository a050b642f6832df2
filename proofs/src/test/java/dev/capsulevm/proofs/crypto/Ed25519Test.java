package dev.capsulevm.proofs.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.signers.Ed25519Signer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Ed25519Test {
  private static final HexFormat HEX = HexFormat.of();

  /** RFC 8032 section 7.1, tests 1 to 3: secret key and the public key derived from it. */
  @Test
  void publicKey_rfc8032Vectors_match() {
    String[][] vectors = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
          "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
          "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"},
    };
    List<String> wrong = new ArrayList<>();
    for (String[] vector : vectors) {
      String actual = SigningKey.fromSeed(HEX.parseHex(vector[0])).publicKey().toHex();
      if (!actual.equals(vector[1])) {
        wrong.add(vector[0] + " gave " + actual);
      }
    }
    assertEquals(List.of(), wrong);
  }

  @Test
  void sign_isPlainEd25519OverTagThenMessage() {
    SigningKey key = SigningKey.generate();
    byte[] message = "hello".getBytes();
    Signature signature = key.sign(Domain.RECORD_SIGNATURE, message);
    Ed25519Signer reference = new Ed25519Signer();
    reference.init(true, new Ed25519PrivateKeyParameters(key.seed(), 0));
    reference.update(Domain.RECORD_SIGNATURE.tag());
    reference.update(message, 0, message.length);
    assertArrayEquals(reference.generateSignature(), signature.toByteArray());
  }

  @Test
  void verify_anyFlippedBitOfSignatureOrMessage_rejected() {
    SigningKey key = SigningKey.generate();
    byte[] message = new byte[33];
    Signature signature = key.sign(Domain.RECORD_SIGNATURE, message);
    assertTrue(key.publicKey().verify(Domain.RECORD_SIGNATURE, message, signature));
    List<String> accepted = new ArrayList<>();
    for (int bit = 0; bit < Signature.LENGTH * 8; bit++) {
      byte[] bytes = signature.toByteArray();
      bytes[bit / 8] ^= (byte) (1 << (bit % 8));
      if (key.publicKey().verify(Domain.RECORD_SIGNATURE, message, Signature.copyOf(bytes))) {
        accepted.add("signature bit " + bit);
      }
    }
    for (int bit = 0; bit < message.length * 8; bit++) {
      byte[] changed = message.clone();
      changed[bit / 8] ^= (byte) (1 << (bit % 8));
      if (key.publicKey().verify(Domain.RECORD_SIGNATURE, changed, signature)) {
        accepted.add("message bit " + bit);
      }
    }
    assertEquals(List.of(), accepted);
  }

  @Test
  void verify_otherDomainOrKey_rejected() {
    SigningKey key = SigningKey.generate();
    byte[] message = new byte[32];
    Signature signature = key.sign(Domain.RECORD_SIGNATURE, message);
    assertFalse(key.publicKey().verify(Domain.METADATA_SIGNATURE, message, signature));
    assertFalse(SigningKey.generate().publicKey().verify(Domain.RECORD_SIGNATURE, message, signature));
  }

  @Test
  void publicKey_wrongLengthOrNotAPoint_refusedWithReason() {
    IllegalArgumentException length =
        assertThrows(IllegalArgumentException.class, () -> PublicKey.copyOf(new byte[31]));
    assertTrue(length.getMessage().contains("31"));
    // y = 2 is not the y-coordinate of any point on edwards25519.
    byte[] notAPoint = new byte[32];
    notAPoint[0] = 2;
    assertThrows(IllegalArgumentException.class, () -> PublicKey.copyOf(notAPoint));
  }

  @Test
  void hexForms_roundTrip() {
    SigningKey key = SigningKey.generate();
    assertEquals(key.publicKey(), PublicKey.fromHex(key.publicKey().toHex()));
    assertEquals(key.publicKey(), PublicKey.fromHex(key.publicKey().toHex().toUpperCase()));
    Signature signature = key.sign(Domain.RECORD_SIGNATURE, new byte[0]);
    assertEquals(signature, Signature.copyOf(HEX.parseHex(signature.toHex())));
  }

  @Test
  void toString_neverShowsTheSeed() {
    byte[] seed = new byte[32];
    seed[0] = (byte) 0xab;
    SigningKey key = SigningKey.fromSeed(seed);
    assertFalse(key.toString().contains(HEX.formatHex(seed)));
    assertTrue(key.toString().contains("redacted"));
  }

  @Test
  void keyFile_roundTripsAndNeverOverwrites(@TempDir Path dir) throws Exception {
    SigningKey key = SigningKey.generate();
    Path file = dir.resolve("host.key");
    KeyFile.write(key, file);
    assertEquals(key.publicKey(), KeyFile.read(file).publicKey());
    assertTrue(Files.readString(file).startsWith("-----BEGIN PRIVATE KEY-----"));
    assertThrows(FileAlreadyExistsException.class, () -> KeyFile.write(SigningKey.generate(), file));
  }

  @Test
  void keyFile_pkcs8Layout_isRfc8410() {
    byte[] seed = new byte[32];
    seed[31] = 7;
    String pem = KeyFile.toPem(SigningKey.fromSeed(seed));
    String base64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    byte[] der = java.util.Base64.getDecoder().decode(base64);
    assertEquals("302e020100300506032b657004220420" + HEX.formatHex(seed), HEX.formatHex(der));
  }

  @Test
  void keyFile_garbage_refusedWithReason() {
    assertThrows(IllegalArgumentException.class, () -> KeyFile.fromPem("not a key"));
    assertThrows(IllegalArgumentException.class,
        () -> KeyFile.fromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  }

  @Test
  void publicKey_decodedKeyCache_neverConfusesKeysSharingTheirFirstBytes() {
    // Keys whose first 8 bytes agree land in the same cache slot: each must still come back as itself,
    // and a non-point with the same prefix as a cached key must still be refused.
    SigningKey a = SigningKey.generate();
    byte[] aBytes = a.publicKey().toByteArray();
    PublicKey first = PublicKey.copyOf(aBytes);
    assertEquals(a.publicKey(), first);
    byte[] message = "cached".getBytes();
    for (int tries = 0, found = 0; tries < 2000 && found < 3; tries++) {
      byte[] other = aBytes.clone();
      other[31] ^= (byte) (tries + 1);
      other[20] ^= (byte) (tries >>> 8);
      PublicKey decoded;
      try {
        decoded = PublicKey.copyOf(other);
      } catch (IllegalArgumentException notAPoint) {
        assertThrows(IllegalArgumentException.class, () -> PublicKey.copyOf(other), "refused again");
        continue;
      }
      found++;
      assertArrayEquals(other, decoded.toByteArray());
      assertFalse(decoded.verify(Domain.RECORD_SIGNATURE, message, a.sign(Domain.RECORD_SIGNATURE, message)));
      assertTrue(PublicKey.copyOf(aBytes).verify(Domain.RECORD_SIGNATURE, message,
          a.sign(Domain.RECORD_SIGNATURE, message)), "the evicted key decodes again correctly");
    }
  }
}
