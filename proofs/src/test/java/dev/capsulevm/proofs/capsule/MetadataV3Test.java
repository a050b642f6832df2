package dev.capsulevm.proofs.capsule;

import static dev.capsulevm.proofs.members.KeystoreFixture.epoch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.KeystoreFixture;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Metadata version 3: version 2 with the genesis keystore block after the description. */
class MetadataV3Test {
  private static final SigningKey CREATOR = TestCapsule.CREATOR;
  private static final SigningKey WRITER = TestCapsule.WRITER;
  private static final SigningKey READER = TestCapsule.READER;
  private static final SigningKey ADDER = TestCapsule.STRANGER;
  /** Genesis members besides the creator: a writer (read + add), a reader (read), an adder (add only). */
  private static final Map<dev.capsulevm.proofs.crypto.PublicKey, Integer> WRITERS = Map.of(
      WRITER.publicKey(), Permissions.READ | Permissions.ADD, READER.publicKey(), Permissions.READ,
      ADDER.publicKey(), Permissions.ADD);
  private static final Keystore GENESIS = KeystoreFixture.rotate(epoch("genesis"), List.of(), CREATOR, WRITER, READER);

  private static Metadata v3(Keystore genesis) {
    return Metadata.createV3(CREATOR.publicKey(), 1_700_000_000_000L, SigningPolicy.EVERY_RECORD, 16, 1 << 16,
        WRITERS, "private", genesis);
  }

  /** Signed metadata bytes: version 2's body with version byte 3, then {@code tail}, then the signature. */
  private static byte[] signedV3Bytes(byte[] tail) {
    byte[] v2 = Metadata.createV2(CREATOR.publicKey(), 1_700_000_000_000L, SigningPolicy.EVERY_RECORD, 16, 1 << 16,
        WRITERS, "private").encoded();
    byte[] body = Arrays.copyOf(v2, v2.length + tail.length);
    body[0] = 3;
    System.arraycopy(tail, 0, body, v2.length, tail.length);
    byte[] signed = Arrays.copyOf(body, body.length + 64);
    CREATOR.sign(Domain.METADATA_SIGNATURE, body).copyTo(signed, body.length);
    return signed;
  }

  @Test
  void v3_isVersion2sBodyAndTheGenesisBlock_andRoundTrips() throws VerificationException {
    Metadata body = v3(GENESIS);
    assertEquals(Metadata.VERSION_3, body.version());
    assertTrue(body.isPrivate());
    assertTrue(body.hasMembers());
    assertEquals(GENESIS, body.genesisKeystoreOrNull());
    SignedMetadata signed = SignedMetadata.sign(body, CREATOR);
    assertArrayEquals(signedV3Bytes(GENESIS.encode()), signed.encoded());
    SignedMetadata parsed = SignedMetadata.parse(signed.encoded(), signed.capsuleId());
    assertEquals(GENESIS, parsed.genesisKeystoreOrNull());
    assertTrue(parsed.isPrivate());
    assertEquals(body, parsed.metadata());
  }

  @Test
  void v1AndV2_areNotPrivate() {
    Metadata v2 = Metadata.createV2(CREATOR.publicKey(), 1, SigningPolicy.EVERY_RECORD, 1, 1, WRITERS, "");
    Metadata v1 = Metadata.create(CREATOR.publicKey(), 1, SigningPolicy.EVERY_RECORD, 1, 1, WRITERS, "");
    assertFalse(v2.isPrivate());
    assertTrue(v2.hasMembers());
    assertNull(v2.genesisKeystoreOrNull());
    assertFalse(v1.isPrivate());
    assertFalse(v1.hasMembers());
  }

  @Test
  void createV3_refusesABlockThatIsNotTheGenesisReadersRotation() {
    for (Keystore bad : List.of(
        KeystoreFixture.forward(epoch("genesis"), CREATOR, WRITER, READER),
        KeystoreFixture.rotate(epoch("genesis"), List.of(epoch("before")), CREATOR, WRITER, READER),
        KeystoreFixture.rotate(epoch("genesis"), List.of(), WRITER, READER),
        KeystoreFixture.rotate(epoch("genesis"), List.of(), CREATOR, WRITER),
        KeystoreFixture.rotate(epoch("genesis"), List.of(), CREATOR, WRITER, READER, ADDER))) {
      assertThrows(IllegalArgumentException.class, () -> v3(bad), bad.toString());
    }
    assertThrows(IllegalArgumentException.class, () -> v3(withForgedCard()));
    // Version-2 rules still hold.
    assertThrows(IllegalArgumentException.class, () -> Metadata.createV3(CREATOR.publicKey(), 1,
        SigningPolicy.EVERY_RECORD, 1, 1, Map.of(CREATOR.publicKey(), 3), "", GENESIS));
  }

  @Test
  void parse_refusesEveryBrokenGenesisBlock_naming() {
    assertRefused(signedV3Bytes(new byte[0]), Failure.MALFORMED_ENCODING, "unknown keystore block version"); // reads the signature
    assertRefused(signedV3Bytes(KeystoreFixture.forward(epoch("genesis"), CREATOR, WRITER, READER).encode()),
        Failure.MALFORMED_ENCODING, "the genesis keystore block is a rotate block");
    assertRefused(signedV3Bytes(KeystoreFixture.rotate(epoch("g"), List.of(epoch("b")), CREATOR, WRITER, READER).encode()),
        Failure.MALFORMED_ENCODING, "links no previous epoch");
    assertRefused(signedV3Bytes(KeystoreFixture.rotate(epoch("g"), List.of(), CREATOR, WRITER).encode()),
        Failure.BAD_KEYSTORE, "has no entry for reader " + READER.publicKey().toHex());
    assertRefused(signedV3Bytes(KeystoreFixture.rotate(epoch("g"), List.of(), CREATOR, WRITER, READER, ADDER).encode()),
        Failure.BAD_KEYSTORE, ADDER.publicKey().toHex() + ", who is not a genesis reader");
    assertRefused(signedV3Bytes(withForgedCard().encode()), Failure.BAD_KEYSTORE, "card signature that does not verify");
    byte[] good = GENESIS.encode();
    byte[] whole = signedV3Bytes(good);
    assertRefused(Arrays.copyOf(whole, whole.length - 64 - 10), Failure.MALFORMED_ENCODING,
        "ends inside keystore entry 2 wrapped secret");
    byte[] trailing = Arrays.copyOf(SignedMetadata.sign(v3(GENESIS), CREATOR).encoded(), signedV3Bytes(good).length + 1);
    assertRefused(trailing, Failure.MALFORMED_ENCODING, "trailing bytes");
  }

  private static Keystore withForgedCard() {
    Keystore.Entry real = KeystoreFixture.entry(READER);
    byte[] otherKey = real.x25519();
    otherKey[5] ^= 1;
    Keystore.Entry forged = new Keystore.Entry(READER.publicKey(), otherKey, real.cardSignature(), real.enc(), real.wrapped());
    return Keystore.rotate(epoch("genesis"), List.of(),
        List.of(KeystoreFixture.entry(CREATOR), KeystoreFixture.entry(WRITER), forged));
  }

  private static void assertRefused(byte[] signed, Failure failure, String reason) {
    VerificationException e = assertThrows(VerificationException.class, () -> SignedMetadata.parse(signed), reason);
    assertEquals(failure, e.failure(), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }
}
