package dev.capsulevm.proofs.members;

import static dev.capsulevm.proofs.members.KeystoreFixture.epoch;
import static dev.capsulevm.proofs.members.KeystoreFixture.forward;
import static dev.capsulevm.proofs.members.KeystoreFixture.rotate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The epoch rules (docs/FORMAT.md, "Members", "Epochs" and "Keystore rules") on made-up membership records. */
class EpochsTest {
  private static final SigningKey CREATOR = signer(1);
  private static final SigningKey WRITER = signer(2);
  private static final SigningKey ADMIN = signer(3);
  private static final SigningKey READER = signer(4);
  private static final SigningKey NEWBIE = signer(5);
  private static final SigningKey OTHER = signer(6);
  private static final EpochKey E0 = epoch("genesis");
  /** Genesis: creator 0x33, writer 0x03, admin 0x13, reader 0x01; the first epoch wrapped for all four. */
  private static final MemberState GENESIS = MemberState.genesis(CREATOR.publicKey(),
      Map.of(WRITER.publicKey(), 0x03, ADMIN.publicKey(), 0x13, READER.publicKey(), 0x01));
  private static final Keystore GENESIS_BLOCK = rotate(E0, List.of(), CREATOR, WRITER, ADMIN, READER);

  private static SigningKey signer(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  private static Op op(String name, SigningKey author, MemberChange change, @Nullable Keystore block, Op... after) {
    Op plain = MemberFixture.op(name, author.publicKey(), change, after);
    return new Op(plain.hash(), plain.height(), plain.authParents(), plain.author(), change, block);
  }

  private static MemberChange set(SigningKey member, int bits) {
    return new MemberChange.SetMember(member.publicKey(), bits);
  }

  /** The epochs at a record whose auth parents are {@code frontier}, the closure being {@code ops}. */
  private static Epochs at(List<Op> ops) {
    return Epochs.at(GENESIS_BLOCK, ops, Resolver.resolve(GENESIS, CREATOR.publicKey(), ops));
  }

  private static Set<PublicKey> keys(SigningKey... members) {
    return Set.copyOf(Arrays.stream(members).map(SigningKey::publicKey).toList());
  }

  @Test
  void genesis_isTheCurrentEpoch_heldByTheGenesisReaders() throws VerificationException {
    Epochs epochs = at(List.of());
    assertEquals(List.of(E0), epochs.all());
    assertEquals(E0, epochs.currentOrNull());
    assertTrue(epochs.isUsable(E0));
    assertNull(epochs.createdByOrNull(E0));
    assertEquals(keys(CREATOR, WRITER, ADMIN, READER), Set.copyOf(epochs.holders(E0)));
    epochs.checkDataRecord(E0);
    assertFalse(epochs.isUsable(epoch("nowhere")));
    assertEquals(Set.of(), epochs.holders(epoch("nowhere")));
  }

  @Test
  void removal_taintsTheOldEpoch_theRotationIsCurrent() throws VerificationException {
    EpochKey e1 = epoch("1");
    Op removal = op("remove reader", CREATOR, set(READER, 0), rotate(e1, List.of(E0), CREATOR, WRITER, ADMIN));
    Epochs epochs = at(List.of(removal));
    assertEquals(List.of(E0, e1), epochs.all());
    assertEquals(removal.hash(), epochs.createdByOrNull(e1));
    assertFalse(epochs.isUsable(E0));
    assertTrue(epochs.isUsable(e1));
    assertEquals(e1, epochs.currentOrNull());
    assertEquals(keys(CREATOR, WRITER, ADMIN), Set.copyOf(epochs.holders(e1)));
    assertTrue(epochs.holders(E0).contains(READER.publicKey()));
    String why = epochs.unusableReasonOrNull(E0);
    assertTrue(why.contains(READER.publicKey().toHex()) && why.contains(removal.hash().toHex()), why);

    epochs.checkDataRecord(e1);
    VerificationException old = assertThrows(VerificationException.class, () -> epochs.checkDataRecord(E0));
    assertEquals(Failure.BAD_EPOCH, old.failure());
    assertTrue(old.getMessage().contains("record is written under epoch " + E0.toHex() + "; the current epoch is "
        + e1.toHex()), old.getMessage());
    assertTrue(old.getMessage().contains(removal.hash().toHex()), old.getMessage());
    VerificationException unknown =
        assertThrows(VerificationException.class, () -> epochs.checkDataRecord(epoch("made up")));
    assertTrue(unknown.getMessage().contains("no epoch " + epoch("made up").toHex()), unknown.getMessage());
  }

  @Test
  void voidRecordsWraps_stillCountAsHolders() throws VerificationException {
    // The admin forwards the first epoch to a newcomer while, concurrently, the creator takes the admin's
    // admin bit away: the admission is void, but its wrap was published.
    Op admit = op("admit", ADMIN, set(NEWBIE, 0x01), forward(E0, NEWBIE));
    Op demote = op("demote", CREATOR, set(ADMIN, 0x03), null);
    Resolution resolution = Resolver.resolve(GENESIS, CREATOR.publicKey(), List.of(admit, demote));
    assertTrue(resolution.voided().contains(admit.hash()));
    Epochs epochs = at(List.of(admit, demote));
    assertTrue(epochs.holders(E0).contains(NEWBIE.publicKey()));
    assertFalse(epochs.isUsable(E0));
    assertNull(epochs.currentOrNull());
    VerificationException none = assertThrows(VerificationException.class, () -> epochs.checkDataRecord(E0));
    assertEquals(Failure.BAD_EPOCH, none.failure());
    assertTrue(none.getMessage().contains("no epoch is usable: a member must rekey"), none.getMessage());

    EpochKey fresh = epoch("after rekey");
    epochs.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.Rekey(), rotate(fresh, List.of(E0), CREATOR, WRITER, ADMIN, READER));
    Op rekey = op("rekey", WRITER, new MemberChange.Rekey(), rotate(fresh, List.of(E0), CREATOR, WRITER, ADMIN, READER),
        admit, demote);
    assertEquals(fresh, at(List.of(admit, demote, rekey)).currentOrNull());
  }

  @Test
  void concurrentRemovalsOnTwoBranches_leaveNoUsableEpoch_untilARekey() throws VerificationException {
    EpochKey ea = epoch("a");
    EpochKey eb = epoch("b");
    Op a = op("creator removes reader", CREATOR, set(READER, 0), rotate(ea, List.of(E0), CREATOR, WRITER, ADMIN));
    Op b = op("admin removes writer", ADMIN, set(WRITER, 0), rotate(eb, List.of(E0), CREATOR, ADMIN, READER));
    assertEquals(ea, at(List.of(a)).currentOrNull());
    assertEquals(eb, at(List.of(b)).currentOrNull());

    Epochs merged = at(List.of(a, b));
    assertEquals(Set.of(E0, ea, eb), Set.copyOf(merged.all()));
    assertNull(merged.currentOrNull());
    for (EpochKey key : List.of(E0, ea, eb)) {
      assertFalse(merged.isUsable(key), key.toHex());
      assertBad(Failure.BAD_EPOCH, "no epoch is usable", () -> merged.checkDataRecord(key));
    }
    assertBad(Failure.BAD_KEYSTORE, "nothing can be forwarded",
        () -> merged.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x01), forward(ea, NEWBIE)));

    EpochKey em = epoch("m");
    Keystore rekeyBlock = rotate(em, List.of(ea, eb), CREATOR, ADMIN);
    merged.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.Rekey(), rekeyBlock);
    Op rekey = op("rekey at the merge", ADMIN, new MemberChange.Rekey(), rekeyBlock, a, b);
    Epochs after = at(List.of(a, b, rekey));
    assertEquals(em, after.currentOrNull());
    after.checkDataRecord(em);
  }

  @Test
  void forward_addsAHolder_andItsRemovalTaintsTheEpoch() throws VerificationException {
    Op add = op("add newbie", ADMIN, set(NEWBIE, 0x01), forward(E0, NEWBIE));
    Epochs epochs = at(List.of(add));
    assertEquals(List.of(E0), epochs.all());
    assertTrue(epochs.holders(E0).contains(NEWBIE.publicKey()));
    assertEquals(E0, epochs.currentOrNull());

    Op remove = op("remove newbie", ADMIN, set(NEWBIE, 0), rotate(epoch("1"), List.of(E0), CREATOR, WRITER, ADMIN, READER), add);
    Epochs later = at(List.of(add, remove));
    assertFalse(later.isUsable(E0));
    assertEquals(epoch("1"), later.currentOrNull());
  }

  @Test
  void holdersFollowPreviousLinks_soARemovedMemberTaintsWhatItsLinksOpen() {
    // d and then m join through rotations that link back to the first epoch. On two branches the
    // creator removes m and the admin removes d. The first epoch's own wraps are all readers still, but m
    // and d hold it through the links: no epoch is usable, so nothing is written under a key they hold.
    EpochKey e2 = epoch("2");
    EpochKey e5 = epoch("5");
    Op addD = op("add d", ADMIN, set(NEWBIE, 0x01), rotate(e2, List.of(E0), CREATOR, WRITER, ADMIN, READER, NEWBIE));
    Op addM = op("add m", ADMIN, set(OTHER, 0x01),
        rotate(e5, List.of(e2), CREATOR, WRITER, ADMIN, READER, NEWBIE, OTHER), addD);
    Op removeM = op("remove m", CREATOR, set(OTHER, 0),
        rotate(epoch("3"), List.of(e5), CREATOR, WRITER, ADMIN, READER, NEWBIE), addM);
    Op removeD = op("remove d", ADMIN, set(NEWBIE, 0),
        rotate(epoch("4"), List.of(e5), CREATOR, WRITER, ADMIN, READER, OTHER), addM);
    Epochs merged = at(List.of(addD, addM, removeM, removeD));
    assertTrue(merged.holders(E0).containsAll(keys(NEWBIE, OTHER)), merged.holders(E0).toString());
    assertFalse(merged.isUsable(E0));
    assertNull(merged.currentOrNull());
  }

  @Test
  void givingRead_needsARotationOrAForwardWithTheNewReader_addWithoutReadNeedsNoWrap() throws VerificationException {
    Epochs epochs = at(List.of());
    epochs.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x02), null);
    epochs.checkMembershipRecord(CREATOR.publicKey(), set(WRITER, 0x01), null); // keeps read
    epochs.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.SetRetention(RetentionPolicy.keepHeights(5)), null);
    assertBad(Failure.BAD_KEYSTORE, "gives read to " + NEWBIE.publicKey().toHex(),
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x03), null));
    epochs.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x03), forward(E0, NEWBIE));
    epochs.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x03), rotate(epoch("1"), List.of(E0), CREATOR, WRITER, ADMIN, READER, NEWBIE));
    assertBad(Failure.BAD_KEYSTORE, "has no entry for it",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x03), forward(E0, READER)));
    // An optional block is still checked.
    epochs.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x02), forward(E0, READER));
    assertBad(Failure.BAD_KEYSTORE, "who is not a reader after the record",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x02), forward(E0, NEWBIE)));
  }

  @Test
  void takingRead_andRekey_needARotationForTheReadersAfter() throws VerificationException {
    Epochs epochs = at(List.of());
    EpochKey e1 = epoch("1");
    epochs.checkMembershipRecord(CREATOR.publicKey(), set(READER, 0), rotate(e1, List.of(E0), CREATOR, WRITER, ADMIN));
    epochs.checkMembershipRecord(CREATOR.publicKey(), set(WRITER, 0x02), rotate(e1, List.of(), CREATOR, ADMIN, READER));
    assertBad(Failure.BAD_KEYSTORE, "takes read from " + READER.publicKey().toHex(),
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), set(READER, 0), null));
    assertBad(Failure.BAD_KEYSTORE, "not a forward block",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), set(READER, 0), forward(E0, CREATOR)));
    assertBad(Failure.BAD_KEYSTORE, "a rekey carries a rotate keystore block",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.Rekey(), null));
    assertBad(Failure.BAD_KEYSTORE, "not a forward block",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.Rekey(), forward(E0, CREATOR)));
    assertBad(Failure.BAD_KEYSTORE, "no entry for reader " + ADMIN.publicKey().toHex(),
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), set(READER, 0), rotate(e1, List.of(E0), CREATOR, WRITER)));
    assertBad(Failure.BAD_KEYSTORE, "for " + READER.publicKey().toHex() + ", who is not a reader after the record",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), set(READER, 0), rotate(e1, List.of(E0), CREATOR, WRITER, ADMIN, READER)));
    assertBad(Failure.BAD_KEYSTORE, "a new epoch needs a fresh key",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.Rekey(), rotate(E0, List.of(), CREATOR, WRITER, ADMIN, READER)));
    assertBad(Failure.BAD_KEYSTORE, "which no keystore block below the record names",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.Rekey(),
            rotate(e1, List.of(epoch("unknown")), CREATOR, WRITER, ADMIN, READER)));
    // Optional rotation with a retention change: entries are the readers.
    epochs.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.SetRetention(RetentionPolicy.NONE),
        rotate(e1, List.of(E0), CREATOR, WRITER, ADMIN, READER));
  }

  @Test
  void forward_mustBeOfTheCurrentEpoch_andARotatedKeyIsNeverReused() {
    EpochKey e1 = epoch("1");
    Op removal = op("remove reader", CREATOR, set(READER, 0), rotate(e1, List.of(E0), CREATOR, WRITER, ADMIN));
    Epochs epochs = at(List.of(removal));
    assertBad(Failure.BAD_KEYSTORE, "the current epoch is " + e1.toHex(),
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), set(NEWBIE, 0x01), forward(E0, NEWBIE)));
    assertBad(Failure.BAD_KEYSTORE, "fresh key",
        () -> epochs.checkMembershipRecord(CREATOR.publicKey(), new MemberChange.Rekey(), rotate(e1, List.of(), CREATOR, WRITER, ADMIN)));
  }

  @Test
  void voidRotation_isNoEpoch_butItsKeyIsTaken() {
    // The admin's rotation is void (concurrently demoted below admin): its key is no epoch.
    EpochKey ex = epoch("x");
    Op rotation = op("admin removes reader", ADMIN, set(READER, 0), rotate(ex, List.of(E0), CREATOR, WRITER, ADMIN));
    Op demote = op("demote admin", CREATOR, set(ADMIN, 0x01), null);
    Epochs epochs = at(List.of(rotation, demote));
    assertFalse(epochs.isEpoch(ex));
    assertTrue(epochs.isNamed(ex));
    assertEquals(List.of(E0), epochs.all());
    assertEquals(E0, epochs.currentOrNull());
  }

  @Test
  void genesisBlock_mustBeARotation() {
    assertThrows(IllegalArgumentException.class,
        () -> Epochs.at(forward(E0, CREATOR), List.of(), Resolver.resolve(GENESIS, CREATOR.publicKey(), List.of())));
  }

  @Test
  void rekey_needsRead_andAConcurrentDemotionBelowReadVoidsIt() {
    Op byWriteOnly = op("rekey by add-only", NEWBIE, new MemberChange.Rekey(), null,
        op("grant add", CREATOR, set(NEWBIE, 0x02), null));
    List<Op> ops = new ArrayList<>(List.of(byWriteOnly, op("grant add", CREATOR, set(NEWBIE, 0x02), null)));
    Resolution r = Resolver.resolve(GENESIS, CREATOR.publicKey(), ops);
    assertTrue(r.voided().contains(byWriteOnly.hash()));
    assertTrue(Rights.check(r.state(), CREATOR.publicKey(), NEWBIE.publicKey(), new MemberChange.Rekey())
        .contains("may not rekey (needs read)"));

    Op rekey = op("rekey by reader", READER, new MemberChange.Rekey(), null);
    Op removeReader = op("remove reader", CREATOR, set(READER, 0), null);
    Resolution concurrent = Resolver.resolve(GENESIS, CREATOR.publicKey(), List.of(rekey, removeReader));
    assertTrue(concurrent.voided().contains(rekey.hash()), concurrent.toString());
  }

  @Test
  void rotationByAnAdminWithoutRead_isHeldByItsAuthor_soNobodyCanUseIt_untilAReaderRekeys()
      throws VerificationException {
    // OTHER may change plain members but cannot read. It removes the reader and rotates for the readers
    // left: it made the new secret, so it holds the new epoch, and it is no reader.
    Op grant = op("grant admin without read", CREATOR, set(OTHER, 0x12), null);
    EpochKey e1 = epoch("1");
    Op removal = op("admin without read removes reader", OTHER, set(READER, 0),
        rotate(e1, List.of(E0), CREATOR, WRITER, ADMIN), grant);
    Epochs epochs = at(List.of(grant, removal));
    assertEquals(List.of(E0, e1), epochs.all());
    assertTrue(epochs.holders(e1).contains(OTHER.publicKey()), "the author of a rotation holds its epoch");
    assertFalse(epochs.isUsable(e1));
    assertNull(epochs.currentOrNull());
    String why = epochs.unusableReasonOrNull(e1);
    assertTrue(why.contains(OTHER.publicKey().toHex() + ", who is not a reader"), why);
    assertBad(Failure.BAD_EPOCH, "no epoch is usable: a member must rekey", () -> epochs.checkDataRecord(e1));

    EpochKey e2 = epoch("2");
    Keystore rekeyBlock = rotate(e2, List.of(e1), CREATOR, WRITER, ADMIN);
    epochs.checkMembershipRecord(WRITER.publicKey(), new MemberChange.Rekey(), rekeyBlock);
    Op rekey = op("writer rekeys", WRITER, new MemberChange.Rekey(), rekeyBlock, removal);
    Epochs after = at(List.of(grant, removal, rekey));
    assertEquals(e2, after.currentOrNull());
    after.checkDataRecord(e2);
  }

  @Test
  void aMemberTakingItsOwnReadAway_needsNoRotation_andLeavesNoUsableEpoch_untilARekey()
      throws VerificationException {
    Epochs genesis = at(List.of());
    genesis.checkMembershipRecord(READER.publicKey(), set(READER, 0), null); // leaving
    genesis.checkMembershipRecord(ADMIN.publicKey(), set(ADMIN, 0x12), null); // demoting itself below read
    assertBad(Failure.BAD_KEYSTORE, "takes read from " + READER.publicKey().toHex(),
        () -> genesis.checkMembershipRecord(ADMIN.publicKey(), set(READER, 0), null));
    // A block a leaver carries anyway is still checked.
    assertBad(Failure.BAD_KEYSTORE, "who is not a reader after the record",
        () -> genesis.checkMembershipRecord(READER.publicKey(), set(READER, 0), forward(E0, READER)));

    Op leave = op("reader leaves", READER, set(READER, 0), null);
    Epochs epochs = at(List.of(leave));
    assertFalse(epochs.isUsable(E0));
    assertNull(epochs.currentOrNull());
    assertBad(Failure.BAD_EPOCH, "no epoch is usable: a member must rekey", () -> epochs.checkDataRecord(E0));

    EpochKey e1 = epoch("1");
    Keystore rekeyBlock = rotate(e1, List.of(E0), CREATOR, WRITER, ADMIN);
    epochs.checkMembershipRecord(ADMIN.publicKey(), new MemberChange.Rekey(), rekeyBlock);
    Op rekey = op("admin rekeys", ADMIN, new MemberChange.Rekey(), rekeyBlock, leave);
    assertEquals(e1, at(List.of(leave, rekey)).currentOrNull());
  }

  private static void assertBad(Failure failure, String reason, Executable check) {
    VerificationException e = assertThrows(VerificationException.class, check);
    assertEquals(failure, e.failure(), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }
}
