package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fund;
import static dev.capsulevm.renter.EndToEndTest.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proofs.privacy.RecordCipher;
import dev.capsulevm.renter.access.EncryptionKey;
import dev.capsulevm.renter.access.MemberCard;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Private capsules through the SDK against a real in-process host: what members read and others cannot,
 * rotation on removal (a removed reader keeps the past and loses the future), later members reading
 * history through previous links, writers without read, a member leaving (then a reader's write rekeys
 * first), and a writer whose epoch a removal it had not seen retired.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrivateCapsuleTest {
  @TempDir static Path dir;
  private TestHost host;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
  }

  @AfterAll
  void stop() throws Exception {
    host.close();
  }

  /** A renter: its identity (also its account), its X25519 key and a client acting as that identity. */
  record Member(SigningKey identity, EncryptionKey key, HostClient client) implements AutoCloseable {
    MemberCard card() {
      return MemberCard.create(identity, key);
    }

    CapsuleReader reader(Hash capsule) throws RenterException {
      return CapsuleReader.open(client, capsule, null, List.of(), key);
    }

    CapsuleWriter writer(SignedMetadata metadata) {
      return new CapsuleWriter(metadata, identity, key, List.of(), List.of());
    }

    @Override
    public void close() {
      client.close();
    }
  }

  private Member member() throws RenterException {
    SigningKey identity = SigningKey.generate();
    fund(host, identity, 1000);
    return new Member(identity, EncryptionKey.generate(), HostClient.connect(host.address(), identity,
        RenterOptions.defaults()));
  }

  /** A private capsule created by {@code creator}, who also writes with its own key. */
  private static CapsuleWriter create(Member creator, Map<MemberCard, Integer> members) throws RenterException {
    return CapsuleWriter.createPrivate(creator.client(), creator.identity(), creator.identity(), creator.key(),
        members, SigningPolicy.EVERY_RECORD, 64, 4096, "private");
  }

  private static EpochKey genesisEpoch(CapsuleWriter writer) {
    return Objects.requireNonNull(writer.metadata().genesisKeystoreOrNull()).epochKey();
  }

  private static Keystore keystoreOf(RecordWithBody membershipRecord) throws Exception {
    assertEquals(2, membershipRecord.payloads().size(), "the membership record carries a keystore block");
    return Keystore.parse(membershipRecord.payloads().get(1));
  }

  @Test
  void membersReadWhatOthersCannot() throws Exception {
    try (Member alice = member(); Member bob = member(); Member outsider = member()) {
      CapsuleWriter capsule = create(alice, Map.of(bob.card(), Rights.READ | Rights.ADD));
      SignedMetadata metadata = capsule.metadata();
      assertEquals(Metadata.VERSION_3, metadata.metadata().version());
      assertTrue(capsule.isPrivate());
      Keystore genesis = Objects.requireNonNull(metadata.genesisKeystoreOrNull());
      assertEquals(2, genesis.entries().size(), "wrapped for the creator and bob");

      RecordWithBody record = capsule.append(alice.client(), List.of(utf8("marker one"), utf8(""))).get(0);
      assertEquals(genesis.epochKey(), record.record().header().epochKeyOrNull());
      assertEquals(utf8("marker one").length + RecordCipher.OVERHEAD, record.payloads().get(0).length);
      assertEquals(RecordCipher.OVERHEAD, record.payloads().get(1).length, "an empty sub-record is its tag");
      assertFalse(new String(record.payloads().get(0), java.nio.charset.StandardCharsets.ISO_8859_1)
          .contains("marker one"));

      assertArrayEquals(utf8("marker one"), capsule.read(alice.client(), record.hash(), 0));
      assertArrayEquals(new byte[0], capsule.read(alice.client(), record.hash(), 1));
      CapsuleReader bobReads = bob.reader(capsule.capsuleId());
      assertArrayEquals(utf8("marker one"), bobReads.read(record.hash(), 0));

      // Bob writes with his own key; the creator reads it.
      RecordWithBody byBob = bob.writer(metadata).append(bob.client(), List.of(utf8("from bob"))).get(0);
      assertArrayEquals(utf8("from bob"), capsule.read(alice.client(), byBob.hash(), 0));

      // An outsider verifies what the host serves (the ciphertext, proven) and reads nothing.
      CapsuleReader outsiderReads = outsider.reader(capsule.capsuleId());
      outsiderReads.refreshHeads();
      ProgramBuilder builder = outsiderReads.newProgram();
      builder.readSubRecord(record.hash(), 0, Objects.requireNonNull(outsiderReads.highestHead()));
      VerifiedOutput verified = outsider.client().run(builder.build()).output(0);
      assertArrayEquals(record.payloads().get(0), verified.payload(), "proofs work on the ciphertext");
      MissingEpochKeyException missing =
          assertThrows(MissingEpochKeyException.class, () -> outsiderReads.plaintext(verified));
      assertEquals(genesis.epochKey(), missing.epochKey());
      assertEquals(record.hash(), missing.recordOrNull());
      assertTrue(missing.getMessage().contains(genesis.epochKey().toHex()), missing.getMessage());

      // A reader without an encryption key at all is told so.
      CapsuleReader keyless = CapsuleReader.open(outsider.client(), capsule.capsuleId(), null, List.of());
      MissingEpochKeyException noKey =
          assertThrows(MissingEpochKeyException.class, () -> keyless.read(record.hash(), 0));
      assertTrue(noKey.getMessage().contains("no encryption key"), noKey.getMessage());
    }
  }

  @Test
  void removedReaderKeepsThePastAndLosesTheFuture() throws Exception {
    try (Member alice = member(); Member bob = member(); Member carol = member()) {
      CapsuleWriter capsule = create(alice, Map.of(bob.card(), Rights.READ | Rights.ADD));
      RecordWithBody before = capsule.append(alice.client(), List.of(utf8("before the removal"))).get(0);

      // Carol joins: the current epoch is forwarded to her card.
      Keystore forward = keystoreOf(capsule.addMember(alice.client(), carol.card(), Rights.READ));
      assertEquals(Keystore.Type.FORWARD, forward.type());
      assertEquals(genesisEpoch(capsule), forward.epochKey());

      // Bob is removed: a new epoch, wrapped for alice and carol only, linked to the genesis epoch.
      Keystore rotation = keystoreOf(capsule.removeMember(alice.client(), bob.identity().publicKey()));
      assertEquals(Keystore.Type.ROTATE, rotation.type());
      assertNotEquals(genesisEpoch(capsule), rotation.epochKey());
      assertEquals(java.util.Set.of(alice.identity().publicKey(), carol.identity().publicKey()), rotation.members());
      assertEquals(List.of(genesisEpoch(capsule)), rotation.previous().stream().map(Keystore.PreviousLink::epochKey).toList());

      RecordWithBody after = capsule.append(alice.client(), List.of(utf8("after the removal"))).get(0);
      assertEquals(rotation.epochKey(), after.record().header().epochKeyOrNull());

      CapsuleReader bobReads = bob.reader(capsule.capsuleId());
      assertArrayEquals(utf8("before the removal"), bobReads.read(before.hash(), 0), "bob keeps what he could read");
      MissingEpochKeyException lost = assertThrows(MissingEpochKeyException.class, () -> bobReads.read(after.hash(), 0));
      assertEquals(rotation.epochKey(), lost.epochKey());
      assertTrue(lost.getMessage().contains("after its read was taken away"), lost.getMessage());

      CapsuleReader carolReads = carol.reader(capsule.capsuleId());
      assertArrayEquals(utf8("before the removal"), carolReads.read(before.hash(), 0));
      assertArrayEquals(utf8("after the removal"), carolReads.read(after.hash(), 0));
    }
  }

  @Test
  void laterMemberReadsHistoryThroughPreviousLinks() throws Exception {
    try (Member alice = member(); Member bob = member(); Member dave = member()) {
      CapsuleWriter capsule = create(alice, Map.of());
      RecordWithBody first = capsule.append(alice.client(), List.of(utf8("under the genesis epoch"))).get(0);
      capsule.addMember(alice.client(), bob.card(), Rights.READ);
      Keystore rotation = keystoreOf(capsule.removeMember(alice.client(), bob.identity().publicKey()));
      RecordWithBody second = capsule.append(alice.client(), List.of(utf8("under the second epoch"))).get(0);
      assertEquals(rotation.epochKey(), second.record().header().epochKeyOrNull());

      // Dave gets the second epoch only (a forward); the genesis epoch comes through its previous link.
      Keystore forward = keystoreOf(capsule.addMember(alice.client(), dave.card(), Rights.READ));
      assertEquals(rotation.epochKey(), forward.epochKey());
      CapsuleReader daveReads = dave.reader(capsule.capsuleId());
      assertArrayEquals(utf8("under the second epoch"), daveReads.read(second.hash(), 0));
      assertArrayEquals(utf8("under the genesis epoch"), daveReads.read(first.hash(), 0));
    }
  }

  @Test
  void writerWithoutReadWritesButCannotRead() throws Exception {
    try (Member alice = member(); Member eve = member(); Member bob = member()) {
      CapsuleWriter capsule = create(alice, Map.of());
      // Add without read needs no card: a hex key is enough, and no keystore block.
      RecordWithBody added = capsule.setMember(alice.client(), eve.identity().publicKey(), Rights.ADD);
      assertEquals(1, added.payloads().size());
      CapsuleWriter eveWrites = eve.writer(capsule.metadata());
      RecordWithBody byEve = eveWrites.append(eve.client(), List.of(utf8("eve writes blind"))).get(0);
      assertArrayEquals(utf8("eve writes blind"), capsule.read(alice.client(), byEve.hash(), 0));
      assertThrows(MissingEpochKeyException.class, () -> eveWrites.read(eve.client(), byEve.hash(), 0));

      // Read for a member named by its identity alone cannot be wrapped: refused, nothing sent.
      IllegalArgumentException noCard = assertThrows(IllegalArgumentException.class,
          () -> capsule.setMember(alice.client(), bob.identity().publicKey(), Rights.READ));
      assertTrue(noCard.getMessage().contains("member card"), noCard.getMessage());
      assertEquals(0, capsule.members(alice.client()).bitsOf(bob.identity().publicKey()));
    }
  }

  @Test
  void memberLeavingLeavesNoUsableEpochUntilAReaderRekeys() throws Exception {
    try (Member alice = member(); Member bob = member(); Member eve = member()) {
      CapsuleWriter capsule = create(alice, Map.of(bob.card(), Rights.READ | Rights.ADD, eve.card(), Rights.ADD));
      capsule.append(alice.client(), List.of(utf8("before bob leaves")));
      CapsuleWriter bobWrites = bob.writer(capsule.metadata());
      RecordWithBody leave = bobWrites.removeMember(bob.client(), bob.identity().publicKey());
      assertEquals(1, leave.payloads().size(), "a member leaving starts no epoch");

      // Eve cannot read, so she cannot rekey: she is told a reader must.
      CapsuleWriter eveWrites = eve.writer(capsule.metadata());
      NoUsableEpochException blocked = assertThrows(NoUsableEpochException.class,
          () -> eveWrites.append(eve.client(), List.of(utf8("eve before the rekey"))));
      assertTrue(blocked.getMessage().contains("a reader must rekey"), blocked.getMessage());

      // Alice reads: her write rekeys first, then lands under the fresh epoch.
      RecordWithBody written = capsule.append(alice.client(), List.of(utf8("after the rekey"))).get(0);
      List<Op> changes = capsule.members(alice.client()).changes();
      Op rekey = changes.get(changes.size() - 1);
      assertInstanceOf(MemberChange.Rekey.class, rekey.change());
      Keystore fresh = Objects.requireNonNull(rekey.keystoreOrNull());
      assertEquals(fresh.epochKey(), written.record().header().epochKeyOrNull());
      assertThrows(MissingEpochKeyException.class, () -> bob.reader(capsule.capsuleId()).read(written.hash(), 0));

      RecordWithBody byEve = eveWrites.append(eve.client(), List.of(utf8("eve after the rekey"))).get(0);
      assertArrayEquals(utf8("eve after the rekey"), capsule.read(alice.client(), byEve.hash(), 0));
    }
  }

  @Test
  void writerBehindARemovalRebuildsUnderTheNewEpoch() throws Exception {
    try (Member alice = member(); Member bob = member(); Member carol = member()) {
      CapsuleWriter capsule = create(alice, Map.of(bob.card(), Rights.READ | Rights.ADD, carol.card(), Rights.READ));
      CapsuleWriter bobWrites = bob.writer(capsule.metadata());
      bobWrites.append(bob.client(), List.of(utf8("bob, before")));

      // Carol's removal lands where bob does not see it; his next append starts from his old heads.
      Keystore rotation = keystoreOf(capsule.removeMember(alice.client(), carol.identity().publicKey()));
      RecordWithBody late = bobWrites.append(bob.client(), List.of(utf8("bob, after"))).get(0);
      assertEquals(rotation.epochKey(), late.record().header().epochKeyOrNull(), "rebuilt under the new epoch");
      assertArrayEquals(utf8("bob, after"), capsule.read(alice.client(), late.hash(), 0));
      assertThrows(MissingEpochKeyException.class, () -> carol.reader(capsule.capsuleId()).read(late.hash(), 0));
      assertNotNull(bobWrites.lastResult());
    }
  }
}
