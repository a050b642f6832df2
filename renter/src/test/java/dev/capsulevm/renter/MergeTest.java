package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fund;
import static dev.capsulevm.renter.Accounts.fundedClient;
import static dev.capsulevm.renter.EndToEndTest.subRecords;
import static dev.capsulevm.renter.EndToEndTest.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.SkipPointers;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.merkle.Merkle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CapsuleWriter#merge} against a real host. The forks are made the honest way a single host
 * allows: a second writer (same key, another device) whose view of the heads is stale builds its record
 * on an old head and submits it in a program that does not claim to know the heads, so the host keeps
 * both branches, as it does after reconciling two replicas that took different appends.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MergeTest {
  @TempDir static Path dir;
  private TestHost host;
  private HostClient client;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    client = fundedClient(host, 1000);
  }

  @AfterAll
  void stop() throws Exception {
    client.close();
    host.close();
  }

  private CapsuleWriter newCapsule(SigningPolicy policy) throws RenterException {
    return CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(), policy, 64, 64, "merge");
  }

  /** Another writer with {@code writer}'s key and its current view, which goes stale as soon as it appends. */
  private static CapsuleWriter sameView(CapsuleWriter writer) {
    return new CapsuleWriter(writer.metadata(), writer.writerKey(), writer.heads(), writer.knownHeaders());
  }

  /**
   * Appends {@code body} on {@code stale}'s view without expecting any heads: the host forks. Such a
   * program budgets one head of the host's view (the host charges for all of them), so it names a budget.
   */
  private RecordWithBody forkFrom(CapsuleWriter stale, List<byte[]> body) throws Exception {
    List<RecordWithBody> records = stale.buildRecords(List.of(body), client.options().clock().millis());
    ProgramBuilder b = new ProgramBuilder(stale.capsuleId(), stale.metadata(), null, stale::headerOrNull);
    b.append(records);
    ProgramResult result = client.run(b.build(), Amount.ofCap(1));
    assertTrue(result.committedHeads().contains(records.get(0).hash()), result.committedHeads().toString());
    return records.get(0);
  }

  private static List<Hash> sorted(Hash... hashes) {
    List<Hash> out = new ArrayList<>(List.of(hashes));
    out.sort(Comparator.naturalOrder());
    return out;
  }

  @Test
  void merge_twoBranchesOfDifferentHeights_oneHeadNamingBothAndProofsThroughIt() throws Exception {
    CapsuleWriter writer = newCapsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody base = writer.append(client, List.of(utf8("base"))).get(0);
    CapsuleWriter stale = sameView(writer);
    List<RecordWithBody> left = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      left.add(writer.append(client, subRecords("left" + i, 2)).get(0));
    }
    RecordWithBody right = forkFrom(stale, subRecords("right", 3));
    Hash leftHead = left.get(5).hash();
    assertEquals(7, left.get(5).record().header().height());
    assertEquals(2, right.record().header().height());

    List<Record> forked = writer.refreshHeads(client);
    assertEquals(sorted(leftHead, right.hash()), forked.stream().map(Record::hash).toList());

    RecordWithBody merge = writer.merge(client, List.of(utf8("merged")));
    RecordHeader header = merge.record().header();
    // Height 8 = 1 + the highest head; the higher branch is the primary parent, so the skip pointers
    // (to heights 6 and 4) run down that branch.
    assertEquals(8, header.height());
    assertEquals(List.of(leftHead, right.hash()), header.parents());
    assertEquals(SkipPointers.count(8), header.skipPointers().size());
    assertEquals(List.of(left.get(4).hash(), left.get(2).hash()), header.skipPointers());
    assertEquals(List.of(merge.hash()), writer.lastResult().committedHeads());

    // The host agrees: one head, signed, naming both branches.
    CapsuleWriter reader = sameView(writer);
    List<Record> after = reader.refreshHeads(client);
    assertEquals(List.of(merge.hash()), after.stream().map(Record::hash).toList());
    assertEquals(Set.of(leftHead, right.hash()), Set.copyOf(after.get(0).header().parents()));
    assertTrue(after.get(0).hasValidSignature());

    // Reads and proofs through the merge record, on both branches and below the fork, all verified.
    ProgramBuilder b = writer.newProgram(client);
    int own = b.readSubRecord(merge.hash(), 0, header);
    int rightRead = b.readSubRecord(right.hash(), 2, header);
    int leftRead = b.readSubRecordAtHeight(3, 1, header);
    int baseProof = b.prove(base.hash(), header);
    int rightProof = b.proveSubRecord(right.hash(), 1, header, utf8("right 1"));
    ProgramResult r = client.run(b.build());
    assertArrayEquals(utf8("merged"), r.output(own).payload());
    assertArrayEquals(utf8("right 2"), r.output(rightRead).payload());
    assertArrayEquals(utf8("left1 1"), r.output(leftRead).payload());
    assertEquals(base.hash(), r.output(baseProof).provenHeaderOrNull().hash());
    assertEquals(right.hash(), r.output(rightProof).provenHeaderOrNull().hash());

    // Appends after the merge are ordinary ones on a single head.
    RecordWithBody next = writer.append(client, List.of(utf8("after"))).get(0);
    assertEquals(List.of(merge.hash()), next.record().header().parents());
    assertEquals(9, next.record().header().height());
  }

  @Test
  void merge_threeHeadsOfEqualHeight_smallestHashIsPrimaryAndAnEmptyRecordIsAccepted() throws Exception {
    CapsuleWriter writer = newCapsule(SigningPolicy.HEARTBEAT);
    writer.append(client, List.of(utf8("base")));
    CapsuleWriter second = sameView(writer);
    CapsuleWriter third = sameView(writer);
    Hash a = writer.append(client, List.of(utf8("a"))).get(0).hash();
    Hash b = forkFrom(second, List.of(utf8("b"))).hash();
    Hash c = forkFrom(third, List.of(utf8("c"))).hash();

    // A writer that has not seen any of the branches merges them all without sub-records.
    CapsuleWriter merger = new CapsuleWriter(writer.metadata(), writer.writerKey(), List.of(), List.of());
    RecordWithBody merge = merger.merge(client, List.of());
    RecordHeader header = merge.record().header();
    assertEquals(3, header.height());
    assertEquals(sorted(a, b, c), header.parents());
    assertEquals(0, header.subRecordCount());
    assertEquals(Merkle.root(List.of()), header.subRecordRoot());
    assertTrue(merge.record().isSigned());
    assertEquals(List.of(merge.hash()), merger.heads().stream().map(Record::hash).toList());

    ProgramBuilder p = merger.newProgram(client);
    int heads = p.heads();
    int proveC = p.prove(c, header);
    int readB = p.readSubRecord(b, 0, header);
    ProgramResult r = client.run(p.build());
    assertEquals(List.of(merge.hash()),
        ((Output.Heads) r.output(heads).output()).heads().stream().map(Record::hash).toList());
    assertEquals(c, r.output(proveC).provenHeaderOrNull().hash());
    assertArrayEquals(utf8("b"), r.output(readB).payload());
  }

  /** A man in the middle changes the merge's proposal: cancelled, the fork stays, and a retry merges. */
  @Test
  void merge_tamperedProposal_isCaughtNothingIsCommittedAndARetryMerges() throws Exception {
    Tamper tamper = new Tamper();
    SigningKey account = SigningKey.generate();
    fund(host, account, 1000);
    try (HostClient tampered = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withInterceptors(List.of(tamper)).withConfirmCommits(true))) {
      CapsuleWriter writer = newCapsule(SigningPolicy.EVERY_RECORD);
      writer.append(client, List.of(utf8("base")));
      CapsuleWriter stale = sameView(writer);
      Hash left = writer.append(client, List.of(utf8("left"))).get(0).hash();
      Hash right = forkFrom(stale, List.of(utf8("right"))).hash();

      tamper.set((position, response) -> response.hasProposal()
          ? response.toBuilder().setProposal(response.getProposal().toBuilder().setHeads(0,
              com.google.protobuf.ByteString.copyFrom(new byte[32]))).build()
          : response);
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class,
          () -> writer.merge(tampered, List.of(utf8("merged"))));
      assertEquals(1, tamper.changed.get(), e.getMessage());
      tamper.clear();

      CapsuleWriter reader = sameView(writer);
      assertEquals(sorted(left, right), reader.refreshHeads(client).stream().map(Record::hash).toList());
      RecordWithBody merge = writer.merge(tampered, List.of(utf8("merged")));
      assertEquals(sorted(left, right), sorted(merge.record().header().parents().toArray(Hash[]::new)));
      assertEquals(List.of(merge.hash()), reader.refreshHeads(client).stream().map(Record::hash).toList());
    }
  }

  @Test
  void merge_singleHead_isAnOrdinaryAppend() throws Exception {
    CapsuleWriter writer = newCapsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody first = writer.merge(client, List.of(utf8("first")));
    assertEquals(List.of(writer.capsuleId()), first.record().header().parents());
    RecordWithBody second = writer.merge(client, List.of(utf8("second")));
    assertEquals(List.of(first.hash()), second.record().header().parents());
    assertEquals(2, second.record().header().height());
    assertEquals(List.of(second.hash()), writer.lastResult().committedHeads());
  }
}
