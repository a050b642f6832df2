package dev.capsulevm.proofs.members;

import static dev.capsulevm.proofs.members.MemberFixture.CREATOR;
import static dev.capsulevm.proofs.members.MemberFixture.genesis;
import static dev.capsulevm.proofs.members.MemberFixture.hashOf;
import static dev.capsulevm.proofs.members.MemberFixture.key;
import static dev.capsulevm.proofs.members.MemberFixture.op;
import static dev.capsulevm.proofs.members.MemberFixture.resolve;
import static dev.capsulevm.proofs.members.MemberFixture.set;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The resolution rule on small, named histories. */
class ResolverTest {
  private static final PublicKey ADMIN1 = key(2);
  private static final PublicKey ADMIN2 = key(3);
  private static final PublicKey WRITER = key(4);
  private static final PublicKey READER = key(5);
  private static final PublicKey NEWCOMER = key(6);
  private static final PublicKey SUPER = key(7);
  private static final MemberState GENESIS =
      genesis(Map.of(ADMIN1, 0x13, ADMIN2, 0x13, WRITER, 0x03, READER, 0x01));

  @Test
  void noOps_giveGenesis() {
    Resolution r = resolve(GENESIS, List.of());
    assertEquals(GENESIS, r.state());
    assertTrue(r.effective().isEmpty());
    assertTrue(r.voided().isEmpty());
  }

  @Test
  void twoAdminsOnTwoBranches_thenAMerge() {
    Op left = op("left", ADMIN1, set(NEWCOMER, 0x03));
    Op right = op("right", ADMIN2, set(READER, 0x03));
    Op merged = op("merged", ADMIN1, set(READER, 0x00), left, right);
    Resolution atMerge = resolveEveryOrder(GENESIS, List.of(left, right));
    assertEquals(0x03, atMerge.state().bitsOf(NEWCOMER));
    assertEquals(0x03, atMerge.state().bitsOf(READER));
    Resolution after = resolveEveryOrder(GENESIS, List.of(left, right, merged));
    assertEquals(0, after.state().bitsOf(READER), "a change after the merge overrides both branches");
    assertEquals(List.of(left.hash(), right.hash()).stream().sorted().toList(), after.effective().subList(0, 2));
    assertEquals(merged.hash(), after.removedByOrNull(READER));
  }

  @Test
  void removalWinsOverAConcurrentGrant() {
    for (String suffix : List.of("", "'", "''", "'''")) {
      Op grant = op("grant" + suffix, ADMIN1, set(READER, 0x03));
      Op remove = op("remove" + suffix, ADMIN2, set(READER, 0x00));
      Resolution r = resolveEveryOrder(GENESIS, List.of(grant, remove));
      assertEquals(0, r.state().bitsOf(READER), "whichever of the two comes first in hash order");
      assertEquals(2, r.effective().size());
    }
  }

  @Test
  void concurrentChangesToOneMember_keepOnlyTheBitsBothGive() {
    Op addOnly = op("a", ADMIN1, set(NEWCOMER, 0x02));
    Op readOnly = op("b", ADMIN2, set(NEWCOMER, 0x01));
    assertEquals(0, resolveEveryOrder(GENESIS, List.of(addOnly, readOnly)).state().bitsOf(NEWCOMER));
    Op both = op("c", ADMIN2, set(NEWCOMER, 0x03));
    assertEquals(0x02, resolveEveryOrder(GENESIS, List.of(addOnly, both)).state().bitsOf(NEWCOMER));
  }

  @Test
  void aRemovedAdminsConcurrentChange_isVoid_whicheverComesFirst() {
    MemberState genesis = genesis(Map.of(ADMIN1, 0x13, WRITER, 0x03)).withMember(SUPER, 0x33);
    // The admin's change at height 1 comes before the demotion (height 2) in resolution order: a victim.
    Op before = op("before", SUPER, set(WRITER, 0x03));
    Op demote = op("demote", SUPER, set(ADMIN1, 0x03), before);
    Op early = op("early", ADMIN1, set(NEWCOMER, 0x03));
    Resolution first = resolveEveryOrder(genesis, List.of(before, demote, early));
    assertEquals(0, first.state().bitsOf(NEWCOMER));
    assertEquals(0x03, first.state().bitsOf(ADMIN1));
    assertTrue(first.voided().contains(early.hash()));
    assertEquals(demote.hash(), first.removedByOrNull(ADMIN1));
    // The admin's change at height 3 comes after the demotion: refused in the running state.
    Op a1 = op("a1", ADMIN1, set(READER, 0x01));
    Op a2 = op("a2", ADMIN1, set(WRITER, 0x01), a1);
    Op late = op("late", ADMIN1, set(NEWCOMER, 0x03), a2);
    Resolution second = resolveEveryOrder(genesis, List.of(before, demote, a1, a2, late));
    assertEquals(0, second.state().bitsOf(NEWCOMER));
    assertEquals(Set3.of(a1, a2, late), Set3.of(second.voided()));
    // What the admin did before the demotion (below it) stays.
    Op earlier = op("earlier", ADMIN1, set(READER, 0x03));
    Op demoteAfter = op("demote-after", SUPER, set(ADMIN1, 0x03), earlier);
    Resolution third = resolveEveryOrder(genesis, List.of(earlier, demoteAfter));
    assertEquals(0x03, third.state().bitsOf(READER));
    assertTrue(third.voided().isEmpty());
  }

  @Test
  void victimsCascade_throughTheRightsTheyGave() {
    MemberState genesis = genesis(Map.of(WRITER, 0x03)).withMember(SUPER, 0x33);
    Op removeSuper = op("remove-super", CREATOR, set(SUPER, 0x00));
    Op makeAdmin = op("make-admin", SUPER, set(ADMIN1, 0x13));
    Op adminAdds = op("admin-adds", ADMIN1, set(NEWCOMER, 0x03), makeAdmin);
    Resolution r = resolveEveryOrder(genesis, List.of(removeSuper, makeAdmin, adminAdds));
    assertEquals(0, r.state().bitsOf(SUPER));
    assertEquals(0, r.state().bitsOf(ADMIN1), "the removed superadmin's concurrent grant is void");
    assertEquals(0, r.state().bitsOf(NEWCOMER), "and so is what the granted admin did");
    assertEquals(List.of(removeSuper.hash()), r.effective());
  }

  @Test
  void theCreatorCannotBeRemoved() {
    MemberState genesis = GENESIS.withMember(SUPER, 0x33);
    Op bySuper = op("by-super", SUPER, set(CREATOR, 0x00));
    Op byItself = op("by-itself", CREATOR, set(CREATOR, 0x00));
    Op lowered = op("lowered", CREATOR, set(CREATOR, 0x03));
    Resolution r = resolveEveryOrder(genesis, List.of(bySuper, byItself, lowered));
    assertEquals(0x33, r.state().bitsOf(CREATOR));
    assertTrue(r.effective().isEmpty());
    assertNull(r.removedByOrNull(CREATOR));
  }

  @Test
  void aMemberLeaves() {
    Op leave = op("leave", READER, set(READER, 0x00));
    Op leaveAgain = op("leave-again", READER, set(READER, 0x00), leave);
    Resolution r = resolveEveryOrder(GENESIS, List.of(leave, leaveAgain));
    assertEquals(0, r.state().bitsOf(READER));
    assertFalse(r.state().members().containsKey(READER));
    assertEquals(leave.hash(), r.removedByOrNull(READER));
    assertEquals(List.of(leave.hash()), r.effective(), "a second leave, by a non-member, is void");
    Op adminLeaves = op("admin-leaves", ADMIN1, set(ADMIN1, 0x00));
    assertEquals(0, resolve(GENESIS, List.of(adminLeaves)).state().bitsOf(ADMIN1));
  }

  @Test
  void anAdminCannotTouchAdmins() {
    Op demote = op("demote", ADMIN1, set(ADMIN2, 0x03));
    Op promote = op("promote", ADMIN1, set(WRITER, 0x13));
    Op self = op("self", ADMIN1, set(ADMIN1, 0x03));
    Resolution r = resolveEveryOrder(GENESIS, List.of(demote, promote, self));
    assertEquals(GENESIS, r.state());
    assertEquals(3, r.voided().size());
  }

  @Test
  void onlyTheCreatorTouchesSuperadmins() {
    MemberState genesis = GENESIS.withMember(SUPER, 0x33);
    Op superGrants = op("super-grants", SUPER, set(WRITER, 0x33));
    Op creatorGrants = op("creator-grants", CREATOR, set(NEWCOMER, 0x23));
    Op superDemotes = op("super-demotes", SUPER, set(NEWCOMER, 0x00), creatorGrants);
    Op superSetsAdmin = op("super-sets-admin", SUPER, set(READER, 0x13));
    Op creatorDemotes = op("creator-demotes", CREATOR, set(SUPER, 0x13), superDemotes, superSetsAdmin);
    Resolution r = resolveEveryOrder(genesis, List.of(superGrants, creatorGrants, superDemotes, creatorDemotes, superSetsAdmin));
    assertEquals(0x03, r.state().bitsOf(WRITER));
    assertEquals(0x23, r.state().bitsOf(NEWCOMER));
    assertEquals(0x13, r.state().bitsOf(SUPER));
    assertEquals(0x13, r.state().bitsOf(READER), "a superadmin may make admins (before its demotion)");
    assertEquals(Set3.of(superGrants, superDemotes), Set3.of(r.voided()));
  }

  @Test
  void retention_needsSuperadmin_andTheLaterInOrderWins() {
    MemberState genesis = GENESIS.withMember(SUPER, 0x33);
    Op byAdmin = op("by-admin", ADMIN1, new MemberChange.SetRetention(RetentionPolicy.keepHeights(5)));
    Op bySuper = op("by-super", SUPER, new MemberChange.SetRetention(RetentionPolicy.keepHeights(100)));
    Op byCreator = op("by-creator", CREATOR, new MemberChange.SetRetention(RetentionPolicy.keepMillis(9)), bySuper);
    Resolution r = resolveEveryOrder(genesis, List.of(byAdmin, bySuper, byCreator));
    assertEquals(RetentionPolicy.keepMillis(9), r.state().retention());
    assertEquals(Set3.of(byAdmin), Set3.of(r.voided()));
  }

  /**
   * The contract voids a record for lacking a right in the running state, and voids for good: when the
   * record that took the right away is itself voided later, the first record stays void.
   */
  @Test
  void voidingIsNeverUndone() {
    MemberState genesis = genesis(Map.of(ADMIN1, 0x13)).withMember(SUPER, 0x33);
    Op demoteAdmin = op("demote-admin", SUPER, set(ADMIN1, 0x03));
    Op x = op("x", ADMIN1, set(NEWCOMER, 0x03));
    Op adminAdds = op("admin-adds", ADMIN1, set(NEWCOMER, 0x03), x);
    // The removal sits at height 2 (its parent is not in the set), after the demotion in resolution
    // order and concurrent with everything: it voids the demotion only after x and adminAdds were voided.
    Op removeSuper = op("remove-super", CREATOR, set(SUPER, 0x00), op("elsewhere", CREATOR, set(READER, 0x01)));
    List<Op> ops = List.of(demoteAdmin, x, adminAdds, removeSuper);
    Resolution r = resolveEveryOrder(genesis, ops);
    assertEquals(0x13, r.state().bitsOf(ADMIN1), "the demotion is a victim of the superadmin's removal");
    assertTrue(r.voided().contains(demoteAdmin.hash()));
    assertTrue(r.voided().contains(x.hash()) && r.voided().contains(adminAdds.hash()),
        "records voided while the demotion was in effect stay void");
    assertEquals(0, r.state().bitsOf(NEWCOMER));
    assertEquals(List.of(removeSuper.hash()), r.effective());
  }

  @Test
  void authParentsOutsideTheSet_orderNothing() {
    Hash missing = hashOf("missing");
    Op grant = new Op(hashOf("grant"), 5, List.of(missing), ADMIN1, set(READER, 0x03));
    Op remove = new Op(hashOf("remove"), 2, List.of(), ADMIN2, set(READER, 0x00));
    assertEquals(0, resolveEveryOrder(GENESIS, List.of(grant, remove)).state().bitsOf(READER),
        "with the missing link absent the two are concurrent");
  }

  @Test
  void arbitraryInput_neverThrows() {
    Hash h = hashOf("cycle-a");
    Hash g = hashOf("cycle-b");
    Op a = new Op(h, 3, List.of(g, h), ADMIN1, set(READER, 0x03));
    Op b = new Op(g, 1, List.of(h), ADMIN2, set(READER, 0x00));
    Op upward = new Op(hashOf("upward"), -4, List.of(h), CREATOR, set(ADMIN1, 0x00));
    Op twin = new Op(h, 3, List.of(), READER, set(READER, 0x00));
    Resolution r = resolveEveryOrder(GENESIS, List.of(a, b, upward, twin, a));
    assertEquals(0x33, r.state().bitsOf(CREATOR));
  }

  @Test
  void closure_followsAuthParents_andSkipsUnknownOnes() {
    Op a = op("a", ADMIN1, set(NEWCOMER, 1));
    Op b = op("b", ADMIN1, set(NEWCOMER, 3), a);
    Op c = op("c", ADMIN2, set(READER, 3));
    Op d = new Op(hashOf("d"), 3, List.of(b.hash(), hashOf("unknown")), ADMIN1, set(WRITER, 1));
    Changelog log = Changelog.of(List.of(a, b, c, d));
    assertEquals(List.of(a, b, d), Changelog.closure(log, List.of(d.hash())));
    assertEquals(List.of(c), Changelog.closure(log, List.of(c.hash(), hashOf("nowhere"))));
    assertTrue(Changelog.closure(log, List.of()).isEmpty());
  }

  /** Resolves the ops in several shuffled orders, checks every result is the same, and returns it. */
  static Resolution resolveEveryOrder(MemberState genesis, List<Op> ops) {
    Resolution first = resolve(genesis, ops);
    Random random = new Random(ops.size());
    for (int i = 0; i < 8; i++) {
      List<Op> shuffled = new ArrayList<>(ops);
      Collections.shuffle(shuffled, random);
      Resolution again = resolve(genesis, shuffled);
      assertEquals(first.state(), again.state());
      assertEquals(first.effective(), again.effective());
      assertEquals(first.voided(), again.voided());
    }
    return first;
  }

  /** Hash sets for readable equality in assertions. */
  private static final class Set3 {
    static java.util.Set<Hash> of(Op... ops) {
      return java.util.Arrays.stream(ops).map(Op::hash).collect(java.util.stream.Collectors.toSet());
    }

    static java.util.Set<Hash> of(java.util.Collection<Hash> hashes) {
      return java.util.Set.copyOf(hashes);
    }
  }
}
