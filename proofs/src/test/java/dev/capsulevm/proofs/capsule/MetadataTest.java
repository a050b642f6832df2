package dev.capsulevm.proofs.capsule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
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
}
