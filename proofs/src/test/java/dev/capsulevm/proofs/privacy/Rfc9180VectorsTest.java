package dev.capsulevm.proofs.privacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.hpke.HPKE;
import org.bouncycastle.crypto.hpke.HPKEContext;
import org.bouncycastle.crypto.hpke.HPKEContextWithEncapsulation;
import org.junit.jupiter.api.Test;

/**
 * RFC 9180 Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305 in base mode, the one
 * suite capsulevm uses, through the same Bouncy Castle calls the privacy package makes. The values are
 * typed from the RFC.
 */
class Rfc9180VectorsTest {
  private static final HexFormat HEX = HexFormat.of();

  private static final byte[] INFO = hex("4f6465206f6e2061204772656369616e2055726e"); // "Ode on a Grecian Urn"
  private static final byte[] IKM_E = hex("909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b");
  private static final byte[] PK_EM = hex("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a");
  private static final byte[] SK_EM = hex("f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600");
  private static final byte[] IKM_R = hex("1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df");
  private static final byte[] PK_RM = hex("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a");
  private static final byte[] SK_RM = hex("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb");
  private static final byte[] ENC = hex("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a");
  /** "Beauty is truth, truth beauty", the plaintext of every encryption. */
  private static final byte[] PT = hex("4265617574792069732074727574682c20747275746820626561757479");

  /** A.2.1.1: sequence number, aad ("Count-" and the number), ciphertext. */
  private static final Object[][] ENCRYPTIONS = {
      {0, "436f756e742d30",
          "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28"},
      {1, "436f756e742d31",
          "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c"},
      {2, "436f756e742d32",
          "71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b"},
      {4, "436f756e742d34",
          "63357a2aa291f5a4e5f27db6baa2af8cf77427c7c1a909e0b37214dd47db122bb153495ff0b02e9e54a50dbe16"},
      {255, "436f756e742d323535",
          "18ab939d63ddec9f6ac2b60d61d36a7375d2070c9b683861110757062c52b8880a5f6b3936da9cd6c23ef2a95c"},
      {256, "436f756e742d323536",
          "7a4a13e9ef23978e2c520fd4d2e757514ae160cd0cd05e556ef692370ca53076214c0c40d4c728d6ed9e727a5b"},
  };

  /** A.2.1.2: exporter context, L = 32, exported value. */
  private static final String[][] EXPORTS = {
      {"", "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e"},
      {"00", "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69"},
      {"54657374436f6e74657874", "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53"},
  };

  @Test
  void deriveKeyPair_givesTheVectorsKeys() {
    HPKE hpke = Suite.hpke();
    AsymmetricCipherKeyPair e = hpke.deriveKeyPair(IKM_E);
    AsymmetricCipherKeyPair r = hpke.deriveKeyPair(IKM_R);
    assertArrayEquals(PK_EM, hpke.serializePublicKey(e.getPublic()));
    assertArrayEquals(PK_RM, hpke.serializePublicKey(r.getPublic()));
    // X25519 private keys are compared as X25519 sees them: after RFC 7748 clamping (RFC 9180 7.1.2).
    assertArrayEquals(clamped(SK_EM), clamped(hpke.serializePrivateKey(e.getPrivate())));
    assertArrayEquals(clamped(SK_RM), clamped(hpke.serializePrivateKey(r.getPrivate())));
  }

  @Test
  void sealAndOpen_reproduceEncTheCiphertextsAndTheExports() throws Exception {
    HPKE hpke = Suite.hpke();
    AsymmetricCipherKeyPair ephemeral = hpke.deserializePrivateKey(SK_EM, PK_EM);
    HPKEContextWithEncapsulation sender = hpke.setupBaseS(hpke.deserializePublicKey(PK_RM), INFO, ephemeral);
    assertArrayEquals(ENC, sender.getEncapsulation());
    HPKEContext receiver = hpke.setupBaseR(ENC, hpke.deserializePrivateKey(SK_RM, PK_RM), INFO);
    // Both contexts count their own sequence numbers, so the numbers the RFC skips are sealed and opened too.
    int sequence = 0;
    for (Object[] encryption : ENCRYPTIONS) {
      int wanted = (Integer) encryption[0];
      for (; sequence < wanted; sequence++) {
        assertArrayEquals(PT, receiver.open(new byte[0], sender.seal(new byte[0], PT)));
      }
      byte[] aad = hex((String) encryption[1]);
      byte[] ciphertext = sender.seal(aad, PT);
      assertEquals(encryption[2], HEX.formatHex(ciphertext), "ciphertext of sequence number " + wanted);
      assertArrayEquals(PT, receiver.open(aad, ciphertext), "plaintext of sequence number " + wanted);
      sequence++;
    }
    for (String[] export : EXPORTS) {
      assertEquals(export[1], HEX.formatHex(sender.export(hex(export[0]), 32)), "sender's export of " + export[0]);
      assertEquals(export[1], HEX.formatHex(receiver.export(hex(export[0]), 32)), "receiver's export of " + export[0]);
    }
  }

  @Test
  void open_refusesAChangedCiphertext() throws Exception {
    HPKE hpke = Suite.hpke();
    HPKEContext receiver = hpke.setupBaseR(ENC, hpke.deserializePrivateKey(SK_RM, PK_RM), INFO);
    byte[] ciphertext = hex((String) ENCRYPTIONS[0][2]);
    ciphertext[3] ^= 1;
    assertThrows(InvalidCipherTextException.class, () -> receiver.open(hex((String) ENCRYPTIONS[0][1]), ciphertext));
  }

  private static byte[] clamped(byte[] key) {
    byte[] k = key.clone();
    k[0] &= (byte) 248;
    k[31] &= 127;
    k[31] |= 64;
    return k;
  }

  private static byte[] hex(String hex) {
    return HEX.parseHex(hex);
  }
}
