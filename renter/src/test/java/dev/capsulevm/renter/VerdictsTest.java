package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static dev.capsulevm.renter.EndToEndTest.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * One verdict per cause, against a real host (issue 13, findings 4 and 6). Two honest writers racing on
 * one capsule were "host misbehaviour" (13,282 of 16,480 shared appends under load): now the second
 * gets an append conflict, which {@link CapsuleWriter} settles by appending again on the heads it then
 * verified. A reader that does not know the heads budgets one ordinary head, and when the host holds
 * more, {@link HostClient#run} pays the ceiling once instead of asking every reader for 16 of the
 * largest headers.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VerdictsTest {
  @TempDir static Path dir;
  private TestHost host;
  private HostClient client;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    client = fundedClient(host, 10_000);
  }

  @AfterAll
  void stop() throws Exception {
    client.close();
    host.close();
  }

  private CapsuleWriter newCapsule() throws RenterException {
    return CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD,
        64, 64, "verdicts");
  }

  /** Another device of the same writer, with {@code writer}'s view, stale once either appends. */
  private static CapsuleWriter sameView(CapsuleWriter writer) {
    return new CapsuleWriter(writer.metadata(), writer.writerKey(), writer.heads(), writer.knownHeaders());
  }

  private static List<Hash> hashes(List<Record> records) {
    return records.stream().map(Record::hash).toList();
  }

  private List<Hash> hostHeads(CapsuleWriter writer) throws RenterException {
    return hashes(WriteVerdicts.verifiedHeads(client, writer.capsuleId(), writer.metadata()));
  }

  @Test
  void writersAppendingInTurnOnStaleViewsAllSucceedOnTheLatestHeads() throws Exception {
    CapsuleWriter first = newCapsule();
    first.append(client, List.of(utf8("base")));
    List<CapsuleWriter> writers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      writers.add(sameView(first));
    }
    RecordWithBody previous = null;
    for (int i = 0; i < writers.size(); i++) {
      CapsuleWriter w = writers.get(i);
      RecordWithBody mine = w.append(client, List.of(utf8("writer " + i))).get(0);
      assertEquals(List.of(mine.hash()), hashes(w.heads()));
      if (previous != null) {
        assertEquals(List.of(previous.hash()), mine.record().header().parents(), "rebuilt on the other's record");
      }
      previous = mine;
    }
    assertEquals(List.of(previous.hash()), hostHeads(first), "one chain, no fork");
  }

  @Test
  void withoutRetriesTheConflictIsReportedWithTheVerifiedHeadsAndNothingIsCommitted() throws Exception {
    CapsuleWriter a = newCapsule();
    a.append(client, List.of(utf8("base")));
    CapsuleWriter b = sameView(a);
    RecordWithBody theirs = a.append(client, List.of(utf8("a wins"))).get(0);
    SigningKey account = SigningKey.generate();
    Accounts.fund(host, account, 100);
    try (HostClient once = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withAppendRetries(0))) {
      AppendConflictException e = assertThrows(AppendConflictException.class,
          () -> b.append(once, List.of(utf8("b loses"))));
      assertEquals(List.of(theirs.hash()), hashes(e.currentHeads()));
      assertNotNull(e.receiptOrNull(), "the refused program's verified receipt");
      assertTrue(e.receiptOrNull().failed());
    }
    assertEquals(List.of(theirs.hash()), hashes(b.heads()), "the writer adopted the verified heads");
    assertEquals(List.of(theirs.hash()), hostHeads(a), "nothing was committed");
    RecordWithBody again = b.append(client, List.of(utf8("b again"))).get(0);
    assertEquals(List.of(theirs.hash()), again.record().header().parents());
  }

  /**
   * Five forks leave five heads. A reader that has not seen them budgets one ordinary head: the host stops
   * it for its budget, and {@link HostClient#run} runs it once more with the ceiling (16 of the largest
   * heads) as the budget. A caller's own budget is never raised.
   */
  @Test
  void aReadThatOutgrowsItsEstimateIsRetriedOnceAtTheCeiling() throws Exception {
    CapsuleWriter writer = newCapsule();
    writer.append(client, List.of(utf8("base")));
    for (int i = 0; i < 5; i++) {
      CapsuleWriter stale = sameView(writer);
      List<RecordWithBody> records = stale.buildRecords(List.of(List.of(utf8("fork " + i))), 1000 + i);
      ProgramBuilder b = new ProgramBuilder(stale.capsuleId(), stale.metadata(), null, stale::headerOrNull);
      b.append(records);
      client.run(b.build(), Amount.ofCap(1)); // the builder does not claim to know the heads: the host forks
    }
    Tamper count = new Tamper();
    SigningKey account = SigningKey.generate();
    Accounts.fund(host, account, 100);
    try (HostClient reader = HostClient.connect(host.address(), account,
        RenterOptions.defaults().withInterceptors(List.of(count)))) {
      ProgramBuilder heads = reader.newProgram(writer.capsuleId());
      heads.heads();
      PreparedProgram program = heads.build();
      ProgramFailedException budget = assertThrows(ProgramFailedException.class,
          () -> reader.run(program, reader.estimate(program).total()), "the caller's budget is kept");
      assertEquals(ProgramFailedException.Reason.BUDGET, budget.reason());
      int before = count.executeCalls.get();
      Amount balance = reader.balance();
      ProgramResult r = reader.run(program);
      assertEquals(2, count.executeCalls.get() - before, "the estimate's attempt, then the ceiling's");
      assertEquals(5, ((Output.Heads) r.output(0).output()).heads().size());
      assertTrue(r.receipt().budget().compareTo(reader.ceiling(program)) == 0);
      assertTrue(balance.units() - reader.balance().units() > r.receipt().finalCost().units(),
          "the failed attempt cost something too");
    }
  }
}
