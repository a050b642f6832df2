package dev.capsulevm.renter.access;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HexFormat;
import org.bouncycastle.crypto.hpke.HPKE;
import org.bouncycastle.crypto.hpke.HPKEContext;
import org.bouncycastle.crypto.hpke.HPKEContextWithEncapsulation;
import org.junit.jupiter.api.Test;

/**
 * The HPKE suite sealed access strings use ({@link AccessString#hpke()}) against RFC 9180, Appendix A.2.1:
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, base mode. The sender side runs with the
 * vector's fixed ephemeral key, so the encapsulation, the ciphertexts and the exported values (which
 * depend on the whole key schedule) must be the RFC's bytes.
 */
class HpkeSuiteTest {
  private static final HexFormat HEX = HexFormat.of();

  // RFC 9180 A.2: mode 0, kem_id 32, kdf_id 1, aead_id 3.
  private static final String SK_EM = "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600";
  private static final String PK_EM = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
  private static final String SK_RM = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
  private static final String PK_RM = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a";
  private static final String INFO = "4f6465206f6e2061204772656369616e2055726e";
  private static final String PT = "4265617574792069732074727574682c20747275746820626561757479";
  // A.2.1.1: sequence numbers 0 and 1.
  private static final String AAD_0 = "436f756e742d30";
  private static final String CT_0 =
      "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28";
  private static final String AAD_1 = "436f756e742d31";
  private static final String CT_1 =
      "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c";
  // A.2.1.2: exported values of length 32 for three exporter contexts.
  private static final String EXPORT_EMPTY = "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e";
  private static final String EXPORT_00 = "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69";
  private static final String EXPORT_TEST_CONTEXT =
      "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53";

  @Test
  void theSenderSideGivesTheRfcBytes() throws Exception {
    HPKE hpke = AccessString.hpke();
    EncryptionKey ephemeral = EncryptionKey.fromPrivateBytes(HEX.parseHex(SK_EM));
    assertEquals(PK_EM, HEX.formatHex(ephemeral.publicKey()), "X25519 public key of skEm");
    HPKEContextWithEncapsulation sender =
        hpke.setupBaseS(hpke.deserializePublicKey(HEX.parseHex(PK_RM)), HEX.parseHex(INFO), ephemeral.keyPair());
    assertEquals(PK_EM, HEX.formatHex(sender.getEncapsulation()), "enc");
    assertEquals(CT_0, HEX.formatHex(sender.seal(HEX.parseHex(AAD_0), HEX.parseHex(PT))), "ciphertext 0");
    assertEquals(CT_1, HEX.formatHex(sender.seal(HEX.parseHex(AAD_1), HEX.parseHex(PT))), "ciphertext 1");
    assertEquals(EXPORT_EMPTY, HEX.formatHex(sender.export(new byte[0], 32)));
    assertEquals(EXPORT_00, HEX.formatHex(sender.export(new byte[] {0}, 32)));
    assertEquals(EXPORT_TEST_CONTEXT, HEX.formatHex(sender.export("TestContext".getBytes(
        java.nio.charset.StandardCharsets.US_ASCII), 32)));
  }

  @Test
  void theReceiverSideOpensTheRfcCiphertexts() throws Exception {
    EncryptionKey recipient = EncryptionKey.fromPrivateBytes(HEX.parseHex(SK_RM));
    assertEquals(PK_RM, HEX.formatHex(recipient.publicKey()));
    HPKEContext receiver = AccessString.hpke().setupBaseR(HEX.parseHex(PK_EM), recipient.keyPair(), HEX.parseHex(INFO));
    assertArrayEquals(HEX.parseHex(PT), receiver.open(HEX.parseHex(AAD_0), HEX.parseHex(CT_0)));
    assertArrayEquals(HEX.parseHex(PT), receiver.open(HEX.parseHex(AAD_1), HEX.parseHex(CT_1)));
    assertEquals(EXPORT_EMPTY, HEX.formatHex(receiver.export(new byte[0], 32)));
  }
}
