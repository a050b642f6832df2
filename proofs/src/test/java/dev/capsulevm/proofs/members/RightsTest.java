package dev.capsulevm.proofs.members;

import static dev.capsulevm.proofs.members.MemberFixture.CREATOR;
import static dev.capsulevm.proofs.members.MemberFixture.key;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** The rights table of docs/FORMAT.md ("Members"), case by case. */
class RightsTest {
  private static final PublicKey SUPER = key(2);
  private static final PublicKey ADMIN = key(3);
  private static final PublicKey WRITER = key(4);
  private static final PublicKey READER = key(5);
  private static final PublicKey OUTSIDER = key(6);
  private static final PublicKey ADMIN2 = key(7);
  private static final Map<String, PublicKey> KEYS =
      Map.of("creator", CREATOR, "super", SUPER, "admin", ADMIN, "writer", WRITER, "reader", READER,
          "outsider", OUTSIDER, "admin2", ADMIN2);

  private static final MemberState STATE =
      MemberState.genesis(CREATOR, Map.of(ADMIN, 0x13, ADMIN2, 0x11, WRITER, 0x03, READER, 0x01))
          .withMember(SUPER, 0x33);

  /** author, target, new bits, expected refusal fragment ("-" when allowed). */
  @ParameterizedTest(name = "{0} sets {1} to {2}: {3}")
  @CsvSource({
    // the creator's own entry is never changed, not even by the creator
    "creator, creator, 0x00, the creator cannot be changed",
    "creator, creator, 0x33, the creator cannot be changed",
    "super, creator, 0x03, the creator cannot be changed",
    // leaving is always allowed (but not for the creator, above)
    "reader, reader, 0x00, -",
    "admin, admin, 0x00, -",
    "super, super, 0x00, -",
    "outsider, outsider, 0x00, is not a member and may not change members (needs admin)",
    // superadmin bits: only the creator
    "creator, outsider, 0x33, -",
    "creator, super, 0x13, -",
    "super, outsider, 0x23, only the creator may",
    "super, super, 0x13, only the creator may",
    "admin, writer, 0x23, only the creator may",
    // admin bits: superadmins
    "super, writer, 0x13, -",
    "super, admin, 0x03, -",
    "super, admin2, 0x00, -",
    "creator, admin, 0x00, -",
    "admin, writer, 0x13, may not change admins (needs superadmin)",
    "admin, admin2, 0x00, may not change admins (needs superadmin)",
    "admin, admin, 0x03, may not change admins (needs superadmin)",
    // other members: admins
    "admin, outsider, 0x03, -",
    "admin2, writer, 0x00, -",
    "admin, reader, 0x03, -",
    "super, reader, 0x00, -",
    "writer, reader, 0x00, holds bits 0x03 and may not change members (needs admin)",
    "writer, writer, 0x01, holds bits 0x03 and may not change members (needs admin)",
    "reader, outsider, 0x01, holds bits 0x01 and may not change members (needs admin)",
    "outsider, reader, 0x00, is not a member and may not change members (needs admin)",
  })
  void setMember(String author, String target, String bits, String expected) {
    MemberChange change = new MemberChange.SetMember(KEYS.get(target), Integer.decode(bits));
    @Nullable String refusal = Rights.check(STATE, CREATOR, KEYS.get(author), change);
    if (expected.equals("-")) {
      assertNull(refusal);
    } else {
      assertNotNull(refusal, "refusal expected: " + expected);
      assertTrue(refusal.contains(expected), refusal);
      assertTrue(refusal.contains(KEYS.get(author).toHex()), "the refusal names the key: " + refusal);
    }
  }

  @Test
  void setRetention_needsSuperadmin() {
    MemberChange change = new MemberChange.SetRetention(RetentionPolicy.keepHeights(10));
    assertNull(Rights.check(STATE, CREATOR, CREATOR, change));
    assertNull(Rights.check(STATE, CREATOR, SUPER, change));
    String refusal = Rights.check(STATE, CREATOR, ADMIN, change);
    assertEquals(
        "key " + ADMIN.toHex() + " holds bits 0x13 and may not set retention (needs superadmin)", refusal);
  }

  @Test
  void rekey_needsRead() {
    MemberChange rekey = new MemberChange.Rekey();
    assertNull(Rights.check(STATE, CREATOR, READER, rekey));
    assertNull(Rights.check(STATE, CREATOR, ADMIN2, rekey));
    assertEquals("key " + OUTSIDER.toHex() + " holds bits 0x12 and may not rekey (needs read)",
        Rights.check(STATE.withMember(OUTSIDER, 0x12), CREATOR, OUTSIDER, rekey));
  }

  @Test
  void write_needsAdd() {
    assertTrue(Rights.mayWrite(STATE, WRITER));
    assertTrue(Rights.mayWrite(STATE, CREATOR));
    assertFalse(Rights.mayWrite(STATE, READER));
    assertFalse(Rights.mayWrite(STATE, ADMIN2));
    assertNull(Rights.writeRefusalOrNull(STATE, WRITER));
    assertEquals(
        "key " + READER.toHex() + " holds bits 0x01 and may not append records (needs add)",
        Rights.writeRefusalOrNull(STATE, READER));
    assertEquals("key " + OUTSIDER.toHex() + " is not a member", Rights.writeRefusalOrNull(STATE, OUTSIDER));
  }
}
