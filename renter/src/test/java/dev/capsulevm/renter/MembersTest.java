package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static dev.capsulevm.renter.EndToEndTest.subRecords;
import static dev.capsulevm.renter.EndToEndTest.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proto.v1.ExecuteResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Members of a version-2 capsule through the SDK against a real in-process host: a member added by the
 * creator appends from its own writer, the list (verified from the signed membership records) shows it,
 * its removal stops its next append with the removal named, and a host that tampers with a membership
 * record it serves is caught.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MembersTest {
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

  /** A capsule whose creator writes (and so manages members) with its own key. */
  private CapsuleWriter create(HostClient client, SigningKey creator) throws RenterException {
    CapsuleWriter writer = CapsuleWriter.create(client, creator, creator, SigningPolicy.EVERY_RECORD, 64, 256, "members");
    assertEquals(Metadata.VERSION_2, writer.metadata().metadata().version());
    assertTrue(writer.metadata().metadata().writers().isEmpty(), "the creator is a member by definition, not listed");
    return writer;
  }

  @Test
  void addAppendListRemoveRefused() throws Exception {
    SigningKey creatorKey = SigningKey.generate();
    SigningKey memberKey = SigningKey.generate();
    try (HostClient creatorClient = fundedClient(host, 1000); HostClient memberClient = fundedClient(host, 1000);
        HostClient readerClient = fundedClient(host, 1000)) {
      CapsuleWriter creator = create(creatorClient, creatorKey);
      creator.append(creatorClient, List.of(utf8("by the creator")));

      // Before it is added the member's append is refused by its own view, without a write.
      CapsuleWriter member = new CapsuleWriter(creator.metadata(), memberKey, List.of(), List.of());
      NotAllowedException early = assertThrows(NotAllowedException.class,
          () -> member.append(memberClient, List.of(utf8("too early"))));
      assertTrue(early.getMessage().contains(memberKey.publicKey().toHex()), early.getMessage());
      assertTrue(early.getMessage().contains("is not a member"), early.getMessage());

      RecordWithBody added = creator.addMember(creatorClient, memberKey.publicKey(), Rights.READ | Rights.ADD);
      assertEquals(new MemberChange.SetMember(memberKey.publicKey(), Rights.READ | Rights.ADD),
          MemberChange.parse(added.payloads().get(0)));

      // The member appends from its own writer (it starts from no heads: it learns them, verified).
      RecordWithBody byMember = member.append(memberClient, List.of(utf8("by the member"))).get(0);
      assertEquals(memberKey.publicKey(), byMember.record().header().writer());

      // A reader holding only the id lists the members, verified from the membership records.
      CapsuleReader reader = CapsuleReader.open(readerClient, creator.capsuleId(), null, List.of());
      CapsuleMembers members = reader.members();
      assertEquals(Rights.READ | Rights.ADD, members.bitsOf(memberKey.publicKey()));
      assertEquals(Rights.ALL, members.bitsOf(creatorKey.publicKey()));
      assertEquals(added.hash(), members.grantOrNull(memberKey.publicKey()).hash());
      assertNull(members.grantOrNull(creatorKey.publicKey()), "the creator's bits come from the metadata");
      assertEquals(List.of(byMember.hash()), members.heads());
      // The member's head is a trusted anchor now: a read through it verifies.
      ProgramBuilder read = reader.newProgram();
      read.readSubRecord(byMember.hash(), 0, reader.highestHead());
      assertArrayEquals(utf8("by the member"), readerClient.run(read.build()).output(0).payload());

      // The creator removes it (on top of the member's record: the creator's append conflict is retried).
      RecordWithBody removal = creator.removeMember(creatorClient, memberKey.publicKey());
      assertEquals(0, creator.members(creatorClient).bitsOf(memberKey.publicKey()));

      // The member's next append, from its stale heads: the host refuses it, naming the removal.
      NotAllowedException refused = assertThrows(NotAllowedException.class,
          () -> member.append(memberClient, List.of(utf8("after removal"))));
      assertTrue(refused.getMessage().contains(memberKey.publicKey().toHex()), refused.getMessage());
      assertTrue(refused.getMessage().contains(removal.hash().toHex()), refused.getMessage());
      // Its own view, once refreshed, refuses it too, before anything is sent.
      member.refreshHeads(memberClient);
      NotAllowedException local = assertThrows(NotAllowedException.class,
          () -> member.append(memberClient, List.of(utf8("again"))));
      assertEquals(removal.hash(), local.removalOrNull());

      CapsuleMembers after = reader.members();
      assertEquals(0, after.bitsOf(memberKey.publicKey()));
      assertEquals(removal.hash(), after.removalOrNull(memberKey.publicKey()).hash());
      assertEquals(List.of(added.hash(), removal.hash()), after.changes().stream().map(o -> o.hash()).toList());
    }
  }

  @Test
  void aMemberWithoutAdminMayNotChangeMembersAndTheCreatorSetsRetention() throws Exception {
    SigningKey creatorKey = SigningKey.generate();
    SigningKey memberKey = SigningKey.generate();
    try (HostClient creatorClient = fundedClient(host, 1000); HostClient memberClient = fundedClient(host, 1000)) {
      CapsuleWriter creator = create(creatorClient, creatorKey);
      creator.addMember(creatorClient, memberKey.publicKey(), Rights.READ | Rights.ADD);
      CapsuleWriter member = new CapsuleWriter(creator.metadata(), memberKey, List.of(), List.of());
      NotAllowedException e = assertThrows(NotAllowedException.class,
          () -> member.addMember(memberClient, SigningKey.generate().publicKey(), Rights.READ));
      assertTrue(e.getMessage().contains("needs admin"), e.getMessage());
      assertThrows(NotAllowedException.class, () -> member.removeMember(memberClient, creatorKey.publicKey()));

      creator.setRetention(creatorClient, RetentionPolicy.keepHeights(100));
      assertEquals(RetentionPolicy.keepHeights(100), creator.members(creatorClient).retention());
      // The member may leave on its own.
      member.removeMember(memberClient, memberKey.publicKey());
      assertEquals(0, creator.members(creatorClient).bitsOf(memberKey.publicKey()));
    }
  }

  @Test
  void aCapsuleWithoutMembershipChangesCostsNoExtraProgram() throws Exception {
    Tamper counter = new Tamper();
    try (HostClient client = fundedClient(host, 1000, counter)) {
      CapsuleWriter writer = create(client, SigningKey.generate());
      int before = counter.executeCalls.get();
      writer.append(client, subRecords("a", 2));
      writer.append(client, subRecords("b", 2));
      assertEquals(before + 2, counter.executeCalls.get(), "one program per append");
    }
  }

  /**
   * A lying host flips one byte of a membership record it serves (its change body, its proof, its
   * signature): the reader that fetches it to check the heads refuses the answer.
   */
  @Test
  void aTamperedMembershipRecordIsRefused() throws Exception {
    SigningKey creatorKey = SigningKey.generate();
    CapsuleWriter creator;
    try (HostClient creatorClient = fundedClient(host, 1000)) {
      creator = create(creatorClient, creatorKey);
      creator.addMember(creatorClient, SigningKey.generate().publicKey(), Rights.READ);
      creator.append(creatorClient, List.of(utf8("after the change")));
    }
    // Program 2 of a fresh reader's members(): ReadByHash (output 0) and ReadSubRecord (output 1).
    for (int[] flip : new int[][] {{1, 4}, {1, -1}, {0, -10}}) {
      Tamper tamper = new Tamper();
      AtomicInteger calls = new AtomicInteger();
      tamper.set((position, r) -> {
        if (position == 0) {
          calls.incrementAndGet();
        }
        if (calls.get() != 2 || !r.hasResult() || r.getResult().getIndex() != flip[0]) {
          return r;
        }
        byte[] output = r.getResult().getOutput().toByteArray();
        int at = flip[1] >= 0 ? flip[1] : output.length + flip[1];
        output[at] ^= 1;
        return ExecuteResponse.newBuilder(r).setResult(r.getResult().toBuilder()
            .setOutput(ByteString.copyFrom(output))).build();
      });
      try (HostClient readerClient = fundedClient(host, 1000, tamper)) {
        CapsuleReader reader = CapsuleReader.open(readerClient, creator.capsuleId(), creator.metadata(), List.of());
        HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, reader::members,
            "output " + flip[0] + " byte " + flip[1]);
        assertEquals(1, tamper.changed.get(), "one byte of one answer changed");
        assertNotNull(e.getMessage());
        assertTrue(reader.trackedHeads().isEmpty(), "no head was adopted");
      }
    }
  }
}
