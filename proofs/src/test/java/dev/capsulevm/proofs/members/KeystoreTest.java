package dev.capsulevm.proofs.members;

import static dev.capsulevm.proofs.members.KeystoreFixture.epoch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class KeystoreTest {
  private static final SigningKey A = signer(1);
  private static final SigningKey B = signer(2);
  private static final SigningKey C = signer(3);
  /** The entries sorted by member key: B (81..), A (8a..), C (ed..). */
  private static final List<SigningKey> SORTED = List.of(B, A, C);
  private static final EpochKey EPOCH = epoch("new");
  private static final EpochKey OLD1 = epoch("old 1");
  private static final EpochKey OLD2 = epoch("old 2");

  private static SigningKey signer(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  private static Keystore rotate() {
    return KeystoreFixture.rotate(EPOCH, List.of(OLD2, OLD1), C, A, B);
  }

  @Test
  void rotate_encodesFieldByField_andRoundTrips() throws VerificationException {
    Keystore block = rotate();
    byte[] bytes = block.encode();
    assertEquals(1 + 1 + 32 + 1 + 2 * 80 + 2 + 3 * 208, bytes.length);
    assertEquals(bytes.length, block.encodedLength());
    assertEquals(1, bytes[0]);
    assertEquals(Keystore.Type.ROTATE.code(), bytes[1]);
    assertArrayEquals(EPOCH.toByteArray(), Arrays.copyOfRange(bytes, 2, 34));
    assertEquals(2, bytes[34]);
    boolean oneFirst = OLD1.compareTo(OLD2) < 0;
    assertArrayEquals((oneFirst ? OLD1 : OLD2).toByteArray(), Arrays.copyOfRange(bytes, 35, 67));
    assertEquals(3, ((bytes[195] & 0xff) << 8) | (bytes[196] & 0xff));
    for (int i = 0; i < 3; i++) {
      int at = 197 + 208 * i;
      Keystore.Entry entry = KeystoreFixture.entry(SORTED.get(i));
      assertArrayEquals(SORTED.get(i).publicKey().toByteArray(), Arrays.copyOfRange(bytes, at, at + 32));
      assertArrayEquals(entry.x25519(), Arrays.copyOfRange(bytes, at + 32, at + 64));
      assertArrayEquals(entry.cardSignature().toByteArray(), Arrays.copyOfRange(bytes, at + 64, at + 128));
      assertArrayEquals(entry.enc(), Arrays.copyOfRange(bytes, at + 128, at + 160));
      assertArrayEquals(entry.wrapped(), Arrays.copyOfRange(bytes, at + 160, at + 208));
    }
    Keystore parsed = Keystore.parse(bytes);
    assertEquals(block, parsed);
    assertEquals(block.hashCode(), parsed.hashCode());
    assertEquals(Keystore.Type.ROTATE, parsed.type());
    assertEquals(EPOCH, parsed.epochKey());
    assertEquals(List.of(oneFirst ? OLD1 : OLD2, oneFirst ? OLD2 : OLD1),
        parsed.previous().stream().map(Keystore.PreviousLink::epochKey).toList());
    assertEquals(SORTED.stream().map(SigningKey::publicKey).toList(), List.copyOf(parsed.members()));
    assertEquals(KeystoreFixture.entry(C), parsed.entryOrNull(C.publicKey()));
    assertNull(parsed.entryOrNull(signer(9).publicKey()));
  }

  @Test
  void forward_roundTrips() throws VerificationException {
    Keystore block = KeystoreFixture.forward(EPOCH, A);
    byte[] bytes = block.encode();
    assertEquals(1 + 1 + 32 + 1 + 2 + 208, bytes.length);
    assertEquals(Keystore.Type.FORWARD.code(), bytes[1]);
    assertEquals(0, bytes[34]);
    assertEquals(block, Keystore.parse(bytes));
    assertEquals(List.of(), block.previous());
  }

  @Test
  void verifyCards_acceptsRealCards_refusesOneNotSignedByItsMember() throws VerificationException {
    rotate().verifyCards();
    Keystore.Entry real = KeystoreFixture.entry(B);
    byte[] signed = new byte[64];
    B.publicKey().copyTo(signed, 0);
    System.arraycopy(real.x25519(), 0, signed, 32, 32);
    Keystore.Entry signedByA = new Keystore.Entry(B.publicKey(), real.x25519(),
        A.sign(Domain.MEMBER_CARD_SIGNATURE, signed), real.enc(), real.wrapped());
    byte[] otherKey = real.x25519();
    otherKey[0] ^= 1;
    Keystore.Entry substituted = new Keystore.Entry(B.publicKey(), otherKey, real.cardSignature(), real.enc(), real.wrapped());
    for (Keystore.Entry bad : List.of(signedByA, substituted)) {
      assertFalse(bad.cardVerifies());
      Keystore block = Keystore.forward(EPOCH, List.of(KeystoreFixture.entry(A), bad));
      VerificationException e = assertThrows(VerificationException.class, block::verifyCards);
      assertEquals(Failure.BAD_KEYSTORE, e.failure());
      assertTrue(e.getMessage().contains(B.publicKey().toHex()), e.getMessage());
    }
  }

  @Test
  void malformed_everyFieldRefusedByName() {
    byte[] good = rotate().encode();
    int entries = 195; // the entry count's offset with two links
    assertMalformed(new byte[0], "ends inside keystore version");
    assertMalformed(mutate(good, b -> b[0] = 2), "unknown keystore block version 2");
    assertMalformed(mutate(good, b -> b[1] = 0), "unknown keystore block type 0");
    assertMalformed(mutate(good, b -> b[1] = 3), "unknown keystore block type 3");
    assertMalformed(Arrays.copyOf(good, 20), "ends inside keystore epoch key");
    assertMalformed(mutate(good, b -> b[1] = 2), "a forward block carries no previous epochs");
    assertMalformed(Arrays.copyOf(good, 100), "ends inside keystore previous secret 0");
    assertMalformed(Arrays.copyOf(good, 120), "ends inside keystore previous epoch 1");
    assertMalformed(mutate(good, b -> { // swap the two links
      byte[] first = Arrays.copyOfRange(b, 35, 115);
      System.arraycopy(b, 115, b, 35, 80);
      System.arraycopy(first, 0, b, 115, 80);
    }), "keystore previous epoch 1");
    assertMalformed(mutate(good, b -> System.arraycopy(b, 35, b, 115, 80)), "not in ascending order or repeats");
    assertMalformed(mutate(good, b -> System.arraycopy(b, 2, b, 35, 32)), "is the block's own epoch");
    assertMalformed(Arrays.copyOf(good, entries + 1), "ends inside keystore entry count");
    byte[] noEntries = Arrays.copyOf(good, entries + 2);
    noEntries[entries] = 0;
    noEntries[entries + 1] = 0;
    assertMalformed(noEntries, "carries 1 to 65535 entries, got 0");
    assertMalformed(mutate(good, b -> { // swap entries 0 and 1
      byte[] first = Arrays.copyOfRange(b, entries + 2, entries + 2 + 208);
      System.arraycopy(b, entries + 2 + 208, b, entries + 2, 208);
      System.arraycopy(first, 0, b, entries + 2 + 208, 208);
    }), "keystore entry 1 (member");
    assertMalformed(mutate(good, b -> System.arraycopy(b, entries + 2, b, entries + 2 + 208, 208)), "repeats");
    assertMalformed(mutate(good, b -> System.arraycopy(MemberChangeTest.notACurvePoint(), 0, b, entries + 2, 32)),
        "keystore entry 0 member");
    assertMalformed(Arrays.copyOf(good, entries + 2 + 208 + 40), "ends inside keystore entry 1 x25519 key");
    assertMalformed(Arrays.copyOf(good, entries + 2 + 208 + 100), "ends inside keystore entry 1 card signature");
    assertMalformed(Arrays.copyOf(good, entries + 2 + 208 + 150), "ends inside keystore entry 1 enc");
    assertMalformed(Arrays.copyOf(good, good.length - 1), "ends inside keystore entry 2 wrapped secret");
    assertMalformed(Arrays.copyOf(good, good.length + 1), "trailing bytes");
    byte[] tooMany = Arrays.copyOf(good, good.length);
    tooMany[entries + 1] = 4;
    assertMalformed(tooMany, "ends inside keystore entry 3 member");
  }

  @Test
  void factories_sortAndRefuseWhatNoEncodingCouldHold() {
    assertEquals(rotate(), KeystoreFixture.rotate(EPOCH, List.of(OLD1, OLD2), A, B, C));
    assertThrows(IllegalArgumentException.class, () -> KeystoreFixture.rotate(EPOCH, List.of(), A, A));
    assertThrows(IllegalArgumentException.class, () -> KeystoreFixture.rotate(EPOCH, List.of(OLD1, OLD1), A));
    assertThrows(IllegalArgumentException.class, () -> KeystoreFixture.rotate(EPOCH, List.of(EPOCH), A));
    assertThrows(IllegalArgumentException.class, () -> KeystoreFixture.rotate(EPOCH, List.of()));
    assertThrows(IllegalArgumentException.class, () -> KeystoreFixture.forward(EPOCH));
    Keystore.Entry real = KeystoreFixture.entry(A);
    assertThrows(IllegalArgumentException.class,
        () -> new Keystore.Entry(A.publicKey(), new byte[31], real.cardSignature(), real.enc(), real.wrapped()));
    assertThrows(IllegalArgumentException.class,
        () -> new Keystore.Entry(A.publicKey(), real.x25519(), real.cardSignature(), new byte[33], real.wrapped()));
    assertThrows(IllegalArgumentException.class,
        () -> new Keystore.Entry(A.publicKey(), real.x25519(), real.cardSignature(), real.enc(), new byte[32]));
    assertThrows(IllegalArgumentException.class, () -> new Keystore.PreviousLink(OLD1, new byte[47]));
  }

  @Test
  void values_areImmutable_andPrintNoSecretBytes() {
    Keystore.Entry entry = KeystoreFixture.entry(A);
    entry.wrapped()[0] ^= 1;
    entry.enc()[0] ^= 1;
    assertEquals(KeystoreFixture.entry(A), entry);
    Keystore.PreviousLink link = KeystoreFixture.link(OLD1);
    link.sealed()[0] ^= 1;
    assertEquals(KeystoreFixture.link(OLD1), link);
    String wrappedHex = HexFormat.of().formatHex(entry.wrapped());
    assertFalse(entry.toString().contains(wrappedHex));
    assertFalse(rotate().toString().contains(wrappedHex));
    assertNotEquals(rotate(), KeystoreFixture.rotate(EPOCH, List.of(OLD1), A, B, C));
  }

  @Test
  void epochKey_isA32ByteValue_orderedUnsigned() {
    EpochKey low = EpochKey.fromHex("7f" + "00".repeat(31));
    EpochKey high = EpochKey.fromHex("80" + "00".repeat(31));
    assertTrue(low.compareTo(high) < 0, "0x80 sorts after 0x7f (unsigned)");
    assertEquals("80" + "00".repeat(31), high.toString());
    assertEquals(high, EpochKey.copyOf(high.toByteArray()));
    assertThrows(IllegalArgumentException.class, () -> EpochKey.copyOf(new byte[31]));
    assertThrows(IllegalArgumentException.class, () -> EpochKey.fromHex("00"));
    byte[] bytes = high.toByteArray();
    bytes[0] = 0;
    assertEquals("80" + "00".repeat(31), high.toHex());
  }

  private static byte[] mutate(byte[] good, Consumer<byte[]> change) {
    byte[] copy = good.clone();
    change.accept(copy);
    return copy;
  }

  private static void assertMalformed(byte[] bytes, String reason) {
    VerificationException e = assertThrows(VerificationException.class, () -> Keystore.parse(bytes), reason);
    assertEquals(Failure.MALFORMED_ENCODING, e.failure(), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }
}
