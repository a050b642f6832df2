package dev.capsulevm.proofs.capsule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetadataTest {
  private final TestCapsule capsule = new TestCapsule(SigningPolicy.EVERY_RECORD);

  @Test
  void parse_roundTrip_sameIdAndFields() throws Exception {
    byte[] encoded = capsule.metadata.encoded();
    SignedMetadata parsed = SignedMetadata.parse(encoded, capsule.id());
    assertEquals(capsule.metadata.metadata(), parsed.metadata());
    assertEquals(Sha256.hash(Domain.CAPSULE_ID, encoded), parsed.capsuleId());
    assertTrue(parsed.metadata().mayAppend(TestCapsule.WRITER.publicKey()));
    assertTrue(!parsed.metadata().mayAppend(TestCapsule.READER.publicKey()));
    assertTrue(!parsed.metadata().mayAppend(TestCapsule.STRANGER.publicKey()));
  }

  @Test
  void parse_anyFlippedBit_rejectedOrOtherId() {
    byte[] encoded = capsule.metadata.encoded();
    List<String> accepted = new ArrayList<>();
    for (int i = 0; i < encoded.length * 8; i++) {
      byte[] tampered = encoded.clone();
      tampered[i / 8] ^= (byte) (1 << (i % 8));
      try {
        SignedMetadata.parse(tampered, capsule.id());
        accepted.add("bit " + i);
      } catch (VerificationException expected) {
        // every change must fail: malformed, bad signature, or another capsule id
      }
    }
    assertEquals(List.of(), accepted);
  }

  @Test
  void parse_trailingByte_rejected() {
    byte[] encoded = Arrays.copyOf(capsule.metadata.encoded(), capsule.metadata.encoded().length + 1);
    VerificationException e = assertThrows(VerificationException.class, () -> SignedMetadata.parse(encoded));
    assertEquals(Failure.MALFORMED_ENCODING, e.failure());
  }

  @Test
  void parse_truncated_rejected() {
    byte[] encoded = capsule.metadata.encoded();
    for (int length = 0; length < encoded.length; length++) {
      byte[] shorter = Arrays.copyOf(encoded, length);
      assertThrows(VerificationException.class, () -> SignedMetadata.parse(shorter), "length " + length);
    }
  }

  @Test
  void parse_signedByOtherKey_badSignature() {
    Metadata body = capsule.metadata.metadata();
    byte[] forged = body.encoded();
    byte[] signature = TestCapsule.STRANGER.sign(Domain.METADATA_SIGNATURE, forged).toByteArray();
    byte[] encoded = Arrays.copyOf(forged, forged.length + 64);
    System.arraycopy(signature, 0, encoded, forged.length, 64);
    VerificationException e = assertThrows(VerificationException.class, () -> SignedMetadata.parse(encoded));
    assertEquals(Failure.BAD_SIGNATURE, e.failure());
  }

  @Test
  void sign_notTheCreator_refused() {
    assertThrows(
        IllegalArgumentException.class,
        () -> SignedMetadata.sign(capsule.metadata.metadata(), TestCapsule.STRANGER));
  }

  @Test
  void create_unknownPermissionBits_refused() {
    assertThrows(
        IllegalArgumentException.class,
        () -> Metadata.create(
            TestCapsule.CREATOR.publicKey(), 0, SigningPolicy.HEARTBEAT, 1, 1,
            Map.of(TestCapsule.WRITER.publicKey(), 4), ""));
  }

  private static Metadata v2(Map<PublicKey, Integer> writers) {
    return Metadata.createV2(TestCapsule.CREATOR.publicKey(), 5, SigningPolicy.HEARTBEAT, 3, 100, writers, "v2");
  }

  @Test
  void createV2_roundTrip_version2AndSameFields() throws Exception {
    Metadata body = v2(Map.of(TestCapsule.WRITER.publicKey(), Permissions.READ | Permissions.ADD | Permissions.ADMIN,
        TestCapsule.READER.publicKey(), Permissions.READ));
    SignedMetadata signed = SignedMetadata.sign(body, TestCapsule.CREATOR);
    assertEquals(2, body.encoded()[0]);
    SignedMetadata parsed = SignedMetadata.parse(signed.encoded(), signed.capsuleId());
    assertEquals(Metadata.VERSION_2, parsed.metadata().version());
    assertEquals(body, parsed.metadata());
    assertEquals(body.writers(), parsed.metadata().writers());
    assertEquals(Metadata.VERSION, capsule.metadata.metadata().version(), "create still makes version 1");
    assertEquals(1, capsule.metadata.metadata().encoded()[0]);
  }

  @Test
  void createV2_brokenWriterRules_refusedNamingTheRule() {
    PublicKey creator = TestCapsule.CREATOR.publicKey();
    PublicKey writer = TestCapsule.WRITER.publicKey();
    assertTrue(assertThrows(IllegalArgumentException.class, () -> v2(Map.of(creator, Permissions.READ)))
        .getMessage().contains("the creator is a member by definition"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> v2(Map.of(writer, 0)))
        .getMessage().contains("no permission bits"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> v2(Map.of(writer, Permissions.SUPERADMIN)))
        .getMessage().contains("superadmin"));
    assertThrows(IllegalArgumentException.class, () -> v2(Map.of(writer, 4)));
    // The same lists stay valid in version 1, whose rules have not changed.
    Metadata.create(creator, 5, SigningPolicy.HEARTBEAT, 3, 100, Map.of(creator, 0, writer, Permissions.SUPERADMIN), "");
  }

  /** Version-1 metadata with {@code writers}, its version byte set to {@code version} and signed again. */
  private static byte[] resignedAs(int version, Map<PublicKey, Integer> writers) {
    byte[] body = Metadata.create(TestCapsule.CREATOR.publicKey(), 5, SigningPolicy.HEARTBEAT, 3, 100, writers, "v2")
        .encoded();
    body[0] = (byte) version;
    byte[] signature = TestCapsule.CREATOR.sign(Domain.METADATA_SIGNATURE, body).toByteArray();
    byte[] encoded = Arrays.copyOf(body, body.length + 64);
    System.arraycopy(signature, 0, encoded, body.length, 64);
    return encoded;
  }

  @Test
  void parseV2_brokenWriterRules_malformed() throws Exception {
    PublicKey creator = TestCapsule.CREATOR.publicKey();
    PublicKey writer = TestCapsule.WRITER.publicKey();
    SignedMetadata.parse(resignedAs(2, Map.of(writer, Permissions.ADMIN | Permissions.READ)));
    for (Map<PublicKey, Integer> writers : List.of(
        Map.of(creator, Permissions.READ), Map.of(writer, 0), Map.of(writer, Permissions.SUPERADMIN | Permissions.ADD))) {
      VerificationException e =
          assertThrows(VerificationException.class, () -> SignedMetadata.parse(resignedAs(2, writers)), writers.toString());
      assertEquals(Failure.MALFORMED_ENCODING, e.failure());
      SignedMetadata.parse(resignedAs(1, writers));
    }
    for (int version : new int[] {0, 3, 255}) {
      assertEquals(Failure.MALFORMED_ENCODING, assertThrows(VerificationException.class,
          () -> SignedMetadata.parse(resignedAs(version, Map.of()))).failure());
    }
  }

  @Test
  void parseV2_anyFlippedBitOrTruncation_rejected() {
    SignedMetadata signed = SignedMetadata.sign(v2(Map.of(TestCapsule.WRITER.publicKey(), Permissions.ADD)),
        TestCapsule.CREATOR);
    byte[] encoded = signed.encoded();
    for (int i = 0; i < encoded.length * 8; i++) {
      byte[] tampered = encoded.clone();
      tampered[i / 8] ^= (byte) (1 << (i % 8));
      assertThrows(VerificationException.class, () -> SignedMetadata.parse(tampered, signed.capsuleId()), "bit " + i);
    }
    for (int length = 0; length < encoded.length; length++) {
      byte[] shorter = Arrays.copyOf(encoded, length);
      assertThrows(VerificationException.class, () -> SignedMetadata.parse(shorter), "length " + length);
    }
  }
}
