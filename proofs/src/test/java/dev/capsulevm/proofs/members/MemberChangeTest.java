package dev.capsulevm.proofs.members;

import static dev.capsulevm.proofs.members.MemberFixture.key;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class MemberChangeTest {
  private static final HexFormat HEX = HexFormat.of();
  private static final PublicKey MEMBER = key(2);

  @ParameterizedTest
  @ValueSource(ints = {0x00, 0x01, 0x02, 0x03, 0x10, 0x13, 0x20, 0x33})
  void setMember_roundTrips(int bits) throws VerificationException {
    MemberChange change = new MemberChange.SetMember(MEMBER, bits);
    byte[] body = change.encode();
    assertEquals(35, body.length);
    assertEquals("0101" + MEMBER.toHex() + String.format("%02x", bits), HEX.formatHex(body));
    assertEquals(change, MemberChange.parse(body));
  }

  @Test
  void setRetention_roundTrips() throws VerificationException {
    for (RetentionPolicy policy :
        new RetentionPolicy[] {
          RetentionPolicy.NONE, RetentionPolicy.keepHeights(1000), RetentionPolicy.keepMillis(Long.MAX_VALUE)
        }) {
      MemberChange change = new MemberChange.SetRetention(policy);
      byte[] body = change.encode();
      assertEquals(11, body.length);
      assertEquals(change, MemberChange.parse(body));
    }
    assertEquals(
        "0102010000000000000064",
        HEX.formatHex(new MemberChange.SetRetention(RetentionPolicy.keepHeights(100)).encode()));
  }

  @Test
  void rekey_roundTrips() throws VerificationException {
    MemberChange rekey = new MemberChange.Rekey();
    assertEquals("0103", HEX.formatHex(rekey.encode()));
    assertEquals(rekey, MemberChange.parse(HEX.parseHex("0103")));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "empty, '', ends inside version",
    "version only, 01, ends inside type",
    "version 0, 0001, unknown member change version 0",
    "version 2, 0201, unknown member change version 2",
    "type 0, 0100, unknown member change type 0",
    "type 4, 0104, unknown member change type 4",
    "rekey trailing, 010300, trailing bytes",
    "short key, 0101aabb, ends inside member key",
    "retention short value, 010201000000, ends inside retention value",
    "retention mode 3, 0102030000000000000001, unknown retention mode 3",
    "retention none with value, 0102000000000000000001, retention mode none takes value 0",
    "retention heights 0, 0102010000000000000000, needs a value of at least 1",
    "retention millis 0, 0102020000000000000000, needs a value of at least 1",
    "retention value 2^63, 0102018000000000000000, is not below 2^63",
    "retention trailing, 010201000000000000000100, trailing bytes",
  })
  void malformed_refusedWithReason(String what, String hex, String reason) {
    VerificationException e =
        assertThrows(VerificationException.class, () -> MemberChange.parse(HEX.parseHex(hex)), what);
    assertEquals(Failure.MALFORMED_ENCODING, e.failure());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  @Test
  void setMember_malformedTails_refused() {
    byte[] good = new MemberChange.SetMember(MEMBER, 3).encode();
    assertRefused(Arrays.copyOf(good, 34), "ends inside bits");
    assertRefused(Arrays.copyOf(good, 36), "trailing bytes");
    for (int bits : new int[] {0x04, 0x08, 0x40, 0x80, 0x37}) {
      byte[] bad = good.clone();
      bad[34] = (byte) bits;
      assertRefused(bad, "outside 0x33");
    }
  }

  @Test
  void setMember_keyNotOnCurve_refused() {
    byte[] body = new MemberChange.SetMember(MEMBER, 3).encode();
    byte[] notAPoint = notACurvePoint();
    System.arraycopy(notAPoint, 0, body, 2, 32);
    assertRefused(body, "member key");
  }

  @Test
  void values_refuseOutOfRangeFields() {
    assertThrows(IllegalArgumentException.class, () -> new MemberChange.SetMember(MEMBER, 0x04));
    assertThrows(IllegalArgumentException.class, () -> new MemberChange.SetMember(MEMBER, 0x133));
    assertThrows(IllegalArgumentException.class, () -> RetentionPolicy.keepHeights(0));
    assertThrows(IllegalArgumentException.class, () -> RetentionPolicy.keepMillis(-1));
    assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(RetentionPolicy.Mode.NONE, 5));
  }

  /** 32 bytes that do not decode to an Ed25519 point (found by search from a fixed start). */
  static byte[] notACurvePoint() {
    byte[] candidate = new byte[32];
    for (int i = 2; ; i++) {
      candidate[0] = (byte) i;
      try {
        PublicKey.copyOf(candidate);
      } catch (IllegalArgumentException notAPoint) {
        return candidate;
      }
    }
  }

  private static void assertRefused(byte[] body, String reason) {
    VerificationException e = assertThrows(VerificationException.class, () -> MemberChange.parse(body));
    assertEquals(Failure.MALFORMED_ENCODING, e.failure());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }
}
