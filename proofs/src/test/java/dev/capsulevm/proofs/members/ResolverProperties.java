package dev.capsulevm.proofs.members;

import static dev.capsulevm.proofs.members.MemberFixture.CREATOR;
import static dev.capsulevm.proofs.members.MemberFixture.key;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/** The resolution rule's promises, over random DAGs of membership records. */
class ResolverProperties {
  private static final List<PublicKey> KEYS = List.of(CREATOR, key(2), key(3), key(4), key(5), key(6), key(7));
  private static final int[] BITS = {0x00, 0x01, 0x02, 0x03, 0x10, 0x11, 0x13, 0x20, 0x23, 0x33};

  /** A random history: a genesis and ops whose auth parents are earlier ops at lower heights. */
  record History(MemberState genesis, List<Op> ops) {}

  static History randomHistory(Random random, boolean chain) {
    Map<PublicKey, Integer> writers = new HashMap<>();
    for (PublicKey key : KEYS.subList(1, KEYS.size())) {
      if (random.nextInt(3) > 0) {
        writers.put(key, new int[] {0x01, 0x03, 0x11, 0x13}[random.nextInt(4)]);
      }
    }
    MemberState genesis = MemberState.genesis(CREATOR, writers);
    if (random.nextBoolean()) {
      genesis = genesis.withMember(KEYS.get(1 + random.nextInt(KEYS.size() - 1)), 0x33);
    }
    int count = 1 + random.nextInt(40);
    List<Op> ops = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      List<Op> parents = new ArrayList<>();
      if (chain) {
        if (i > 0) {
          parents.add(ops.get(i - 1));
        }
      } else {
        int wanted = ops.isEmpty() ? 0 : random.nextInt(Math.min(4, ops.size() + 1));
        for (int p = 0; p < wanted; p++) {
          Op parent = ops.get(random.nextInt(ops.size()));
          if (!parents.contains(parent)) {
            parents.add(parent);
          }
        }
      }
      long height = 1 + random.nextInt(2);
      for (Op parent : parents) {
        height = Math.max(height, parent.height() + 1);
      }
      if (chain) {
        height = i + 1;
      }
      ops.add(new Op(
          hashOf(random.nextLong()),
          height,
          parents.stream().map(Op::hash).sorted().toList(),
          randomAuthor(random, genesis),
          randomChange(random)));
    }
    return new History(genesis, ops);
  }

  private static PublicKey randomAuthor(Random random, MemberState genesis) {
    // Mostly members with rights, so that many changes take effect.
    List<PublicKey> admins = genesis.members().entrySet().stream()
        .filter(e -> (e.getValue() & (Rights.ADMIN | Rights.SUPERADMIN)) != 0).map(Map.Entry::getKey).toList();
    return random.nextInt(3) > 0 ? admins.get(random.nextInt(admins.size())) : KEYS.get(random.nextInt(KEYS.size()));
  }

  private static MemberChange randomChange(Random random) {
    if (random.nextInt(8) == 0) {
      return new MemberChange.SetRetention(
          random.nextBoolean() ? RetentionPolicy.NONE : RetentionPolicy.keepHeights(1 + random.nextInt(100)));
    }
    return new MemberChange.SetMember(KEYS.get(random.nextInt(KEYS.size())), BITS[random.nextInt(BITS.length)]);
  }

  private static Hash hashOf(long n) {
    return Sha256.hash(Domain.RECORD, ByteBuffer.allocate(8).putLong(n).array());
  }

  @Property(tries = 500)
  void anyInputOrder_givesTheSameResolution(@ForAll long seed) {
    Random random = new Random(seed);
    History h = randomHistory(random, false);
    Resolution first = Resolver.resolve(h.genesis(), CREATOR, h.ops());
    for (int i = 0; i < 3; i++) {
      List<Op> shuffled = new ArrayList<>(h.ops());
      Collections.shuffle(shuffled, random);
      Resolution again = Resolver.resolve(h.genesis(), CREATOR, shuffled);
      assertEquals(first.state(), again.state());
      assertEquals(first.effective(), again.effective());
      assertEquals(first.voided(), again.voided());
      for (PublicKey key : KEYS) {
        assertEquals(first.removedByOrNull(key), again.removedByOrNull(key));
      }
    }
  }

  @Property(tries = 500)
  void everyRecord_isEffectiveOrVoid_andTheCreatorKeepsEverything(@ForAll long seed) {
    History h = randomHistory(new Random(seed), false);
    Resolution r = Resolver.resolve(h.genesis(), CREATOR, h.ops());
    assertEquals(Rights.ALL, r.state().bitsOf(CREATOR));
    Set<Hash> effective = new HashSet<>(r.effective());
    assertEquals(r.effective().size(), effective.size());
    for (Op op : h.ops()) {
      assertTrue(effective.contains(op.hash()) ^ r.voided().contains(op.hash()), "exactly one of effective or void");
    }
    assertEquals(h.ops().size(), effective.size() + r.voided().size());
  }

  /** Junk that no real capsule holds: cycles, parents outside the set, heights out of order, twins. */
  @Property(tries = 500)
  void arbitraryInput_neverThrows(@ForAll long seed) {
    Random random = new Random(seed);
    History h = randomHistory(random, false);
    List<Hash> names = new ArrayList<>(h.ops().stream().map(Op::hash).toList());
    names.add(hashOf(-1));
    List<Op> junk = new ArrayList<>();
    for (Op op : h.ops()) {
      List<Hash> parents = new ArrayList<>();
      for (int p = random.nextInt(4); p > 0; p--) {
        parents.add(names.get(random.nextInt(names.size())));
      }
      Hash hash = random.nextInt(10) == 0 ? names.get(random.nextInt(names.size())) : op.hash();
      junk.add(new Op(hash, random.nextLong() % 5, parents, op.author(), op.change()));
    }
    Resolution r = Resolver.resolve(h.genesis(), CREATOR, junk);
    assertEquals(Rights.ALL, r.state().bitsOf(CREATOR));
    Collections.shuffle(junk, random);
    assertEquals(r.state(), Resolver.resolve(h.genesis(), CREATOR, junk).state());
  }

  /** Without concurrency the resolution is plain sequential application, refusing what Rights refuses. */
  @Property(tries = 500)
  void aChain_resolvesLikeSequentialApplication(@ForAll long seed) {
    History h = randomHistory(new Random(seed), true);
    MemberState state = h.genesis();
    List<Hash> applied = new ArrayList<>();
    for (Op op : h.ops()) {
      if (Rights.check(state, CREATOR, op.author(), op.change()) != null) {
        continue;
      }
      applied.add(op.hash());
      if (op.change() instanceof MemberChange.SetMember set) {
        state = state.withMember(set.member(), set.bits());
      } else {
        state = state.withRetention(((MemberChange.SetRetention) op.change()).policy());
      }
    }
    Resolution r = Resolver.resolve(h.genesis(), CREATOR, h.ops());
    assertEquals(state, r.state());
    assertEquals(applied, r.effective());
  }

  @Property(tries = 500)
  void noMemberHoldsABitThatNothingGaveIt(@ForAll long seed) {
    History h = randomHistory(new Random(seed), false);
    Resolution r = Resolver.resolve(h.genesis(), CREATOR, h.ops());
    Map<PublicKey, Integer> given = new HashMap<>(h.genesis().members());
    for (Op op : h.ops()) {
      if (r.isEffective(op.hash()) && op.change() instanceof MemberChange.SetMember set) {
        given.merge(set.member(), set.bits(), (a, b) -> a | b);
      }
    }
    r.state().members().forEach((key, bits) ->
        assertEquals(0, bits & ~given.getOrDefault(key, 0), "unexplained bits for " + key));
  }

  /**
   * An effective change to a member that no later effective change to that member descends from caps
   * the member's final bits, whatever concurrent changes say: of concurrent changes, the lower wins.
   */
  @Property(tries = 500)
  void anUnsupersededEffectiveChange_capsTheFinalBits(@ForAll long seed) {
    History h = randomHistory(new Random(seed), false);
    Resolution r = Resolver.resolve(h.genesis(), CREATOR, h.ops());
    Map<Hash, Set<Hash>> below = ancestry(h.ops());
    for (Op op : h.ops()) {
      if (!r.isEffective(op.hash()) || !(op.change() instanceof MemberChange.SetMember set)) {
        continue;
      }
      boolean superseded = h.ops().stream().anyMatch(later ->
          r.isEffective(later.hash())
              && later.change() instanceof MemberChange.SetMember other
              && other.member().equals(set.member())
              && below.get(later.hash()).contains(op.hash()));
      if (!superseded) {
        assertEquals(0, r.state().bitsOf(set.member()) & ~set.bits(), "bits beyond " + op);
      }
    }
  }

  /** A grant and a removal of one member, concurrent and both last: the member ends with at most the removal's bits. */
  @Property(tries = 500)
  void concurrentGrantAndRemoval_removalWins(@ForAll long seed) {
    Random random = new Random(seed);
    History h = randomHistory(random, false);
    List<Hash> frontier = h.ops().stream().map(Op::hash).sorted().toList();
    long height = 1 + h.ops().stream().mapToLong(Op::height).max().orElse(0);
    PublicKey target = KEYS.get(1 + random.nextInt(KEYS.size() - 1));
    int grantBits = new int[] {0x03, 0x13, 0x33, 0x11}[random.nextInt(4)];
    int removalBits = new int[] {0x00, 0x01, 0x02}[random.nextInt(3)];
    Op grant = new Op(hashOf(random.nextLong()), height, frontier, CREATOR, new MemberChange.SetMember(target, grantBits));
    Op removal = new Op(hashOf(random.nextLong()), height + random.nextInt(2), frontier, CREATOR,
        new MemberChange.SetMember(target, removalBits));
    List<Op> ops = new ArrayList<>(h.ops());
    ops.add(grant);
    ops.add(removal);
    Resolution r = Resolver.resolve(h.genesis(), CREATOR, ops);
    assertTrue(r.isEffective(grant.hash()) && r.isEffective(removal.hash()));
    assertEquals(grantBits & removalBits, r.state().bitsOf(target));
  }

  /**
   * {@code ops} with keystore blocks and some rekeys: about half carry a block, a rotation of a fresh key
   * (linking some earlier keys) or a forward of an earlier key, wrapped for random keys. Cards are not
   * signed: {@link Epochs} never checks them.
   */
  private static List<Op> withKeystores(List<Op> ops, Random random) {
    List<EpochKey> named = new ArrayList<>(List.of(KeystoreFixture.epoch("genesis")));
    List<Op> out = new ArrayList<>();
    for (Op op : ops) {
      MemberChange change = random.nextInt(8) == 0 ? new MemberChange.Rekey() : op.change();
      Keystore block = null;
      if (random.nextBoolean()) {
        List<Keystore.Entry> entries = new ArrayList<>();
        for (PublicKey key : KEYS) {
          if (entries.isEmpty() || random.nextInt(3) > 0) {
            entries.add(new Keystore.Entry(key, new byte[32], Signature.copyOf(new byte[64]), new byte[32], new byte[48]));
          }
        }
        if (random.nextInt(3) > 0) {
          EpochKey fresh = KeystoreFixture.epoch("k" + random.nextLong());
          List<Keystore.PreviousLink> links = new ArrayList<>();
          for (EpochKey previous : Set.copyOf(named)) {
            if (random.nextInt(3) == 0) {
              links.add(KeystoreFixture.link(previous));
            }
          }
          block = Keystore.rotate(fresh, links, entries);
          named.add(fresh);
        } else {
          block = Keystore.forward(named.get(random.nextInt(named.size())), entries);
        }
      }
      out.add(new Op(op.hash(), op.height(), op.authParents(), op.author(), change, block));
    }
    return out;
  }

  private static Keystore genesisBlock(MemberState genesis) {
    List<Keystore.Entry> entries = new ArrayList<>();
    genesis.members().forEach((key, bits) -> {
      if ((bits & Rights.READ) != 0) {
        entries.add(new Keystore.Entry(key, new byte[32], Signature.copyOf(new byte[64]), new byte[32], new byte[48]));
      }
    });
    return Keystore.rotate(KeystoreFixture.epoch("genesis"), List.of(), entries);
  }

  @Property(tries = 300)
  void epochs_anyInputOrder_giveTheSameEpochs(@ForAll long seed) {
    Random random = new Random(seed);
    History h = randomHistory(random, false);
    List<Op> ops = withKeystores(h.ops(), random);
    Keystore genesis = genesisBlock(h.genesis());
    Epochs first = Epochs.at(genesis, ops, Resolver.resolve(h.genesis(), CREATOR, ops));
    Set<EpochKey> keys = new HashSet<>(first.all());
    ops.forEach(op -> {
      if (op.keystoreOrNull() != null) {
        keys.add(op.keystoreOrNull().epochKey());
      }
    });
    for (int i = 0; i < 3; i++) {
      List<Op> shuffled = new ArrayList<>(ops);
      Collections.shuffle(shuffled, random);
      Epochs again = Epochs.at(genesis, shuffled, Resolver.resolve(h.genesis(), CREATOR, shuffled));
      assertEquals(first.all(), again.all());
      assertEquals(first.currentOrNull(), again.currentOrNull());
      for (EpochKey key : keys) {
        assertEquals(first.holders(key), again.holders(key));
        assertEquals(first.isUsable(key), again.isUsable(key));
      }
    }
  }

  /** Usable means exactly: an epoch, every holder of which (through links too) is a reader. */
  @Property(tries = 300)
  void epochs_usableExactlyWhenEveryHolderReads_currentIsTheLastUsable(@ForAll long seed) {
    Random random = new Random(seed);
    History h = randomHistory(random, false);
    List<Op> ops = withKeystores(h.ops(), random);
    Resolution r = Resolver.resolve(h.genesis(), CREATOR, ops);
    Epochs epochs = Epochs.at(genesisBlock(h.genesis()), ops, r);
    EpochKey last = null;
    for (EpochKey key : epochs.all()) {
      boolean allRead = epochs.holders(key).stream().allMatch(k -> (r.state().bitsOf(k) & Rights.READ) != 0);
      assertEquals(allRead, epochs.isUsable(key), key.toHex());
      if (allRead) {
        last = key;
      }
    }
    assertEquals(last, epochs.currentOrNull());
    for (Op op : ops) {
      Keystore block = op.keystoreOrNull();
      if (block != null) {
        assertTrue(epochs.holders(block.epochKey()).containsAll(block.members()), "every wrap counts, void or not");
        if (block.type() == Keystore.Type.ROTATE) { // its key is fresh: an epoch exactly when the record is effective
          assertTrue(epochs.holders(block.epochKey()).contains(op.author()), "a rotation's author holds its epoch");
          assertEquals(r.isEffective(op.hash()), epochs.isEpoch(block.epochKey()));
          assertEquals(r.isEffective(op.hash()) ? op.hash() : null, epochs.createdByOrNull(block.epochKey()));
        }
      }
    }
  }

  /** Auth-parent reachability, computed independently of the resolver. */
  private static Map<Hash, Set<Hash>> ancestry(List<Op> ops) {
    Map<Hash, Op> byHash = new TreeMap<>();
    ops.forEach(op -> byHash.put(op.hash(), op));
    Map<Hash, Set<Hash>> below = new HashMap<>();
    for (Op op : ops) {
      Set<Hash> seen = new TreeSet<>();
      ArrayDeque<Hash> pending = new ArrayDeque<>(op.authParents());
      while (!pending.isEmpty()) {
        Hash next = pending.pop();
        Op parent = byHash.get(next);
        if (parent != null && seen.add(next)) {
          pending.addAll(parent.authParents());
        }
      }
      below.put(op.hash(), seen);
    }
    return below;
  }
}
