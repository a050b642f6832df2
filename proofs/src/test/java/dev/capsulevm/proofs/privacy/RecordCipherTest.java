package dev.capsulevm.proofs.privacy;

import static dev.capsulevm.proofs.privacy.PrivacyFixture.filled;
import static dev.capsulevm.proofs.privacy.PrivacyFixture.flipped;
import static dev.capsulevm.proofs.privacy.PrivacyFixture.member;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class RecordCipherTest {
  private static final Hash CAPSULE = Hash.copyOf(filled(0x11));
  private static final Hash OTHER_CAPSULE = Hash.copyOf(filled(0x12));
  private static final long HEIGHT = 7;

  private final SecureRandom random = new SecureRandom();
  private final PublicKey writer = member(2, 3).key();
  private final PublicKey otherWriter = member(7, 8).key();
  private final EpochSecret epoch = EpochSecret.generate(random);

  private RecordCipher writerCipher() {
    return RecordCipher.forWriter(epoch.epochKey(), CAPSULE, writer, HEIGHT, random);
  }

  private RecordCipher reader(byte[] enc) throws DecryptionException {
    return RecordCipher.forReader(epoch, enc, CAPSULE, writer, HEIGHT);
  }

  @Test
  void sealThenOpen_roundTripsEverySubRecord() throws Exception {
    RecordCipher writing = writerCipher();
    byte[][] plaintexts = {new byte[0], bytes("a"), new byte[1024], bytes("the last sub-record")};
    byte[][] payloads = new byte[plaintexts.length][];
    for (int i = 0; i < plaintexts.length; i++) {
      payloads[i] = writing.seal(i, plaintexts[i]);
      assertEquals(plaintexts[i].length + RecordCipher.OVERHEAD, payloads[i].length);
    }
    RecordCipher reading = reader(writing.enc());
    assertEquals(epoch.epochKey(), reading.epochKey());
    for (int i = 0; i < plaintexts.length; i++) {
      assertArrayEquals(plaintexts[i], reading.open(i, payloads[i]));
    }
  }

  @Test
  void eachRecordHasItsOwnEncAndKey_andEachIndexItsOwnNonce() {
    RecordCipher a = writerCipher();
    RecordCipher b = writerCipher();
    assertEquals(RecordCipher.ENC_LENGTH, a.enc().length);
    assertFalse(Arrays.equals(a.enc(), b.enc()));
    byte[] plaintext = new byte[64];
    assertFalse(Arrays.equals(a.seal(0, plaintext), b.seal(0, plaintext)), "same index, two records");
    assertFalse(Arrays.equals(a.seal(0, plaintext), a.seal(1, plaintext)), "same record, two indexes");
    assertArrayEquals(a.seal(3, plaintext), a.seal(3, plaintext), "the cipher is deterministic per place");
  }

  @Test
  void open_ofAnyChangedByte_failsAndNamesThePlace() throws Exception {
    RecordCipher writing = writerCipher();
    byte[] payload = writing.seal(2, bytes("secret marker 42"));
    RecordCipher reading = reader(writing.enc());
    for (int i = 0; i < payload.length; i++) {
      byte[] changed = flipped(payload, i);
      DecryptionException e = assertThrows(DecryptionException.class, () -> reading.open(2, changed), "byte " + i);
      assertEquals(DecryptionException.Reason.DOES_NOT_DECRYPT, e.reason());
      assertTrue(e.getMessage().contains("sub-record 2 of the record at height 7 by writer " + writer.toHex()),
          e.getMessage());
      assertTrue(e.getMessage().contains(epoch.epochKey().toHex()), e.getMessage());
      assertFalse(e.getMessage().contains(HexFormat.of().formatHex(epoch.toBytes())), e.getMessage());
    }
    assertThrows(DecryptionException.class, () -> reading.open(2, Arrays.copyOf(payload, payload.length - 1)));
    assertThrows(DecryptionException.class, () -> reading.open(2, Arrays.copyOf(payload, payload.length + 1)));
    DecryptionException shortOne = assertThrows(DecryptionException.class, () -> reading.open(2, new byte[15]));
    assertTrue(shortOne.getMessage().contains("shorter than the 16-byte tag"), shortOne.getMessage());
  }

  @Test
  void open_atAnotherIndex_fails() throws Exception {
    RecordCipher writing = writerCipher();
    byte[] payload = writing.seal(0, bytes("index zero"));
    RecordCipher reading = reader(writing.enc());
    assertThrows(DecryptionException.class, () -> reading.open(1, payload));
    assertArrayEquals(bytes("index zero"), reading.open(0, payload));
  }

  @Test
  void open_inAnotherRecordsPlace_fails() throws Exception {
    RecordCipher writing = writerCipher();
    byte[] enc = writing.enc();
    byte[] payload = writing.seal(0, bytes("placed"));
    RecordCipher[] elsewhere = {
        RecordCipher.forReader(epoch, enc, CAPSULE, writer, HEIGHT + 1),
        RecordCipher.forReader(epoch, enc, CAPSULE, otherWriter, HEIGHT),
        RecordCipher.forReader(epoch, enc, OTHER_CAPSULE, writer, HEIGHT),
        RecordCipher.forReader(EpochSecret.generate(random), enc, CAPSULE, writer, HEIGHT),
        reader(writerCipher().enc()),
    };
    for (RecordCipher reading : elsewhere) {
      assertThrows(DecryptionException.class, () -> reading.open(0, payload), reading.toString());
    }
  }

  @Test
  void open_withAnyChangedByteOfEnc_fails() throws Exception {
    RecordCipher writing = writerCipher();
    byte[] payload = writing.seal(0, bytes("enc"));
    for (int i = 0; i < RecordCipher.ENC_LENGTH; i++) {
      byte[] enc = flipped(writing.enc(), i);
      // A changed enc may already fail in forReader (a degenerate point), else in open: never garbage.
      assertThrows(DecryptionException.class, () -> reader(enc).open(0, payload), "enc byte " + i);
    }
    byte[] topBit = writing.enc();
    topBit[31] ^= (byte) 0x80;
    assertThrows(DecryptionException.class, () -> reader(topBit).open(0, payload));
  }

  @Test
  void forReader_ofADegenerateEnc_isADecryptionException() {
    DecryptionException e = assertThrows(DecryptionException.class, () -> reader(new byte[32]));
    assertTrue(e.getMessage().contains("height 7"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> reader(new byte[31]));
  }

  @Test
  void badArguments_areRefused() {
    assertThrows(IllegalArgumentException.class,
        () -> RecordCipher.forWriter(epoch.epochKey(), CAPSULE, writer, -1, random));
    assertThrows(IllegalArgumentException.class, () -> writerCipher().seal(-1, new byte[1]));
  }

  @Test
  void toStringAndDestroy_neverShowTheKey() throws Exception {
    RecordCipher writing = writerCipher();
    String text = writing.toString();
    assertTrue(text.contains("height 7"), text);
    assertFalse(text.contains(HexFormat.of().formatHex(epoch.toBytes())), text);
    writing.destroy();
    assertTrue(writing.isDestroyed());
    assertThrows(IllegalStateException.class, () -> writing.seal(0, new byte[1]));
    RecordCipher reading = reader(writerCipher().enc());
    reading.destroy();
    assertThrows(IllegalStateException.class, () -> reading.open(0, new byte[16]));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
