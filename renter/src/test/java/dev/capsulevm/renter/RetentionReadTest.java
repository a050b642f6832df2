package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static dev.capsulevm.renter.EndToEndTest.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.RetentionPolicy;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.testing.Await;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads of sub-records a host dropped under the capsule's retention policy: the SDK verifies the answer
 * and returns it typed ({@link VerifiedOutput#isDropped()}, {@link DroppedSubRecord}); {@code payload()}
 * says so with {@link SubRecordDroppedException}, never as misbehaviour. A host that claims "dropped"
 * for a record the policy keeps, or changes any byte of an honest "dropped" answer, is caught. And the
 * host drops on its own, shortly after the commits, without a run by hand.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RetentionReadTest {
  @TempDir static Path dir;
  private TestHost host;
  private final Tamper tamper = new Tamper();
  private HostClient client;
  private CapsuleWriter writer;
  private RecordWithBody r1;
  private RecordWithBody r4;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    client = fundedClient(host, 100_000, tamper);
    SigningKey creator = SigningKey.generate();
    // The creator writes: it is the superadmin that may set retention.
    writer = CapsuleWriter.create(client, creator, creator, SigningPolicy.EVERY_RECORD, 64, 4096, "retention");
    r1 = writer.append(client, List.of(utf8("one"))).get(0);
    writer.setRetention(client, RetentionPolicy.keepHeights(2));
    writer.append(client, List.of(utf8("three")));
    r4 = writer.append(client, List.of(utf8("four"))).get(0);
    writer.append(client, List.of(utf8("five")));
    host.host.retention().run(writer.capsuleId());
  }

  @AfterAll
  void stop() throws Exception {
    client.close();
    host.close();
  }

  private PreparedProgram read(RecordWithBody record) {
    ProgramBuilder b = writer.newProgram(client);
    b.readSubRecord(record.hash(), 0, writer.highestHead());
    return b.build();
  }

  @Test
  void aDroppedSubRecordIsAVerifiedTypedAnswer() throws Exception {
    VerifiedOutput out = client.run(read(r1)).output(0);
    assertTrue(out.isDropped());
    DroppedSubRecord dropped = out.dropped();
    assertEquals(r1.hash(), dropped.record().hash());
    assertEquals(0, dropped.index());
    assertEquals(Merkle.leafHash(utf8("one")), dropped.leafHash());
    assertEquals(RetentionPolicy.keepHeights(2), dropped.policy());
    assertEquals(writer.highestHead().hash(), dropped.witness().hash(), "the head the renter read from witnesses");
    SubRecordDroppedException e = assertThrows(SubRecordDroppedException.class, out::payload);
    assertEquals(dropped, e.dropped());
    assertTrue(e.getMessage().contains("was dropped under the capsule's retention policy (keep the newest 2 heights"),
        e.getMessage());

    VerifiedOutput kept = client.run(read(r4)).output(0);
    assertFalse(kept.isDropped());
    assertArrayEquals(utf8("four"), kept.payload());
  }

  @Test
  void aHostThatClaimsDroppedForAKeptRecordIsCaught() throws Exception {
    // A genuine witness proof (the head, with its writer's entry) from an honest answer about r1 ...
    Output.SubRecordDropped honest = (Output.SubRecordDropped) client.run(read(r1)).output(0).output();
    // ... and r4's genuine sub-record proof, combined into "r4 was dropped": the policy keeps height 4.
    Output.SubRecord held = (Output.SubRecord) client.run(read(r4)).output(0).output();
    byte[] forged = OutputEncoding.encode(
        new Output.SubRecordDropped(Merkle.leafHash(utf8("four")), held.proof(), honest.witnessProof()));
    UnaryOperator<ExecuteResponse> lie = r -> r.hasResult()
        ? r.toBuilder().setResult(r.getResult().toBuilder().setOutput(ByteString.copyFrom(forged))).build() : r;
    tamper.set((position, response) -> position == 0 ? lie.apply(response) : response);
    try {
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, () -> client.run(read(r4)));
      assertTrue(e.getMessage().contains("NOT_DROPPABLE"), e.getMessage());
    } finally {
      tamper.clear();
    }
  }

  @Test
  void everyByteOfAnHonestDroppedAnswerIsChecked() throws Exception {
    byte[] honest = client.run(read(r1)).output(0).outputBytes();
    int cases = 0;
    for (int p = 0; p < honest.length; p += Math.max(1, honest.length / 40)) {
      int position = p;
      tamper.set((index, response) -> index == 0 && response.hasResult()
          ? response.toBuilder().setResult(response.getResult().toBuilder().setOutput(flip(response.getResult()
              .getOutput(), position))).build() : response);
      try {
        assertThrows(HostMisbehaviourException.class, () -> client.run(read(r1)), "byte " + position);
      } finally {
        tamper.clear();
      }
      cases++;
    }
    assertTrue(cases >= 30, "cases: " + cases);
  }

  @Test
  void theHostDropsOnItsOwnSoonAfterTheCommits() throws Exception {
    SigningKey creator = SigningKey.generate();
    CapsuleWriter own = CapsuleWriter.create(client, creator, creator, SigningPolicy.EVERY_RECORD, 64, 4096, "runner");
    RecordWithBody first = own.append(client, List.of(utf8("first"))).get(0);
    own.setRetention(client, RetentionPolicy.keepHeights(1));
    for (int i = 0; i < 5; i++) {
      own.append(client, List.of(utf8("later " + i)));
    }
    // No run by hand: the host's retention runner queued one after these commits.
    Await.until("the first record's payload dropped by the host's own retention run", () -> {
      ProgramBuilder b = own.newProgram(client);
      b.readSubRecord(first.hash(), 0, own.highestHead());
      try {
        return client.run(b.build()).output(0).isDropped();
      } catch (RenterException e) {
        throw new AssertionError(e);
      }
    });
  }

  private static ByteString flip(ByteString bytes, int position) {
    byte[] copy = bytes.toByteArray();
    copy[position] ^= 0x01;
    return ByteString.copyFrom(copy);
  }
}
