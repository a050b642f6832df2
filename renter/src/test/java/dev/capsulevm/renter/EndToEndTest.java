package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fund;
import static dev.capsulevm.renter.Accounts.fundedClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.MaxPrices;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EndToEndTest {
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

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static List<byte[]> subRecords(String prefix, int n) {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(utf8(prefix + " " + i));
    }
    return out;
  }

  @Test
  void everyInstructionEndToEndWithExactAccounting() throws Exception {
    try (HostClient client = fundedClient(host, 1000)) {
      Amount start = client.balance();
      long spent = 0;
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 4096, 256, "e2e");
      spent += writer.lastResult().receipt().finalCost().units();
      assertEquals(writer.capsuleId(), ((Output.CapsuleCreated) writer.lastResult().output(0).output()).capsuleId());

      List<RecordWithBody> one = writer.append(client, List.of(utf8("hello")));
      spent += writer.lastResult().receipt().finalCost().units();
      List<RecordWithBody> big = writer.append(client, subRecords("kv", 1000));
      spent += writer.lastResult().receipt().finalCost().units();
      assertEquals(List.of(big.get(0).hash()), writer.lastResult().committedHeads());
      RecordHeader head = writer.highestHead();
      assertEquals(2, head.height());

      ProgramBuilder b = writer.newProgram(client);
      int heads = b.heads();
      int byHash = b.readSubRecord(big.get(0).hash(), 999, head);
      int byHeight = b.readSubRecordAtHeight(1, 0, head);
      int prove = b.prove(one.get(0).hash(), head);
      int proveSub = b.proveSubRecord(big.get(0).hash(), 500, head);
      int proveHeight = b.proveAtHeight(1, head);
      int has = b.has(one.get(0).hash());
      int hasNot = b.has(Hash.copyOf(new byte[32]));
      int byHashRead = b.readByHash(big.get(0).hash());
      int byHashAbsent = b.readByHash(Hash.copyOf(new byte[32]));
      ProgramResult r = client.run(b.build());
      spent += r.receipt().finalCost().units();

      assertEquals(List.of(head), ((Output.Heads) r.output(heads).output()).heads().stream().map(Record::header).toList());
      assertArrayEquals(utf8("kv 999"), r.output(byHash).payload());
      assertArrayEquals(utf8("hello"), r.output(byHeight).payload());
      assertEquals(one.get(0).hash(), r.output(prove).provenHeaderOrNull().hash());
      assertEquals(big.get(0).hash(), r.output(proveSub).provenHeaderOrNull().hash());
      assertEquals(1, r.output(proveHeight).provenHeaderOrNull().height());
      assertTrue(((Output.Has) r.output(has).output()).held());
      assertFalse(((Output.Has) r.output(hasNot).output()).held());
      assertEquals(1000, ((Output.ByHash) r.output(byHashRead).output()).subRecordCount());
      assertNull(((Output.ByHash) r.output(byHashAbsent).output()).recordOrNull());

      assertFalse(r.receipt().failed());
      assertTrue(r.receipt().finalCost().compareTo(r.estimate().total()) <= 0, "final cost within the estimate");
      assertEquals(r.receipt().budget(), r.receipt().finalCost().plus(r.receipt().refund()));
      assertEquals(start.units() - spent, client.balance().units(), "the balance moved by exactly the final costs");
    }
  }

  /**
   * Issue 13, finding 6, against the host: for every instruction kind, the estimate (the budget) is within
   * 1.2x of the metered cost when the renter holds what the output is made of (a writer's own capsule).
   */
  @Test
  void everyKindIsEstimatedWithinTwentyPercentOfTheMeteredCost() throws Exception {
    try (HostClient client = fundedClient(host, 1000)) {
      Map<InstructionKind, Double> ratios = new EnumMap<>(InstructionKind.class);
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 64, 256, "estimates");
      ratios.put(InstructionKind.CREATE_CAPSULE, ratio(writer.lastResult()));
      RecordWithBody first = writer.append(client, subRecords("e", 10)).get(0);
      writer.append(client, subRecords("f", 3));
      ratios.put(InstructionKind.APPEND_RECORD, ratio(writer.lastResult()));
      RecordHeader head = writer.highestHead();
      Map<InstructionKind, java.util.function.Consumer<ProgramBuilder>> reads = new EnumMap<>(InstructionKind.class);
      reads.put(InstructionKind.READ_SUB_RECORD, b -> b.readSubRecord(first.hash(), 3, head));
      reads.put(InstructionKind.PROVE, b -> b.prove(first.hash(), head));
      reads.put(InstructionKind.HAS_RECORD, b -> b.has(first.hash()));
      reads.put(InstructionKind.READ_BY_HASH, b -> b.readByHash(first.hash()));
      reads.put(InstructionKind.HEADS, ProgramBuilder::heads);
      reads.put(InstructionKind.METADATA, ProgramBuilder::metadata);
      for (Map.Entry<InstructionKind, java.util.function.Consumer<ProgramBuilder>> read : reads.entrySet()) {
        ProgramBuilder b = writer.newProgram(client);
        read.getValue().accept(b);
        ratios.put(read.getKey(), ratio(client.run(b.build())));
      }
      assertEquals(InstructionKind.values().length, ratios.size());
      ratios.forEach((kind, ratio) -> assertTrue(ratio <= 1.2, kind + ": estimate / metered = " + ratio));
    }
  }

  private static double ratio(ProgramResult r) {
    return (double) r.estimate().total().units() / r.receipt().finalCost().units();
  }

  @Test
  void heartbeatAppendOfSeveralRecordsAndReadsOfTheUnsignedOnes() throws Exception {
    try (HostClient client = fundedClient(host, 1000)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.HEARTBEAT, 16, 64, "heartbeat");
      List<List<byte[]>> bodies = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        bodies.add(subRecords("r" + i, 3));
      }
      List<RecordWithBody> records = writer.appendRecords(client, bodies);
      assertFalse(records.get(2).record().isSigned());
      assertTrue(records.get(5).record().isSigned());
      // A second append needs skip-pointer headers the writer built itself.
      writer.appendRecords(client, List.of(subRecords("later", 2), subRecords("last", 1)));
      RecordHeader head = writer.highestHead();
      assertEquals(8, head.height());
      ProgramBuilder b = writer.newProgram(client);
      b.readSubRecord(records.get(2).hash(), 1, head);
      b.heads();
      ProgramResult r = client.run(b.build());
      assertArrayEquals(utf8("r2 1"), r.output(0).payload());

      // A fresh writer from persisted state refetches missing headers by hash.
      CapsuleWriter resumed = new CapsuleWriter(writer.metadata(), writer.writerKey(), writer.heads(), List.of());
      resumed.append(client, List.of(utf8("resumed")));
      assertEquals(9, resumed.highestHead().height());
    }
  }

  @Test
  void outputsArriveThroughTheIteratorTheListenerAndTheFuture() throws Exception {
    try (HostClient client = fundedClient(host, 1000)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 64, 64, "async");
      writer.append(client, subRecords("x", 20));
      RecordHeader head = writer.highestHead();
      ProgramBuilder b = writer.newProgram(client);
      for (int i = 0; i < 20; i++) {
        b.readSubRecordAtHeight(1, i, head);
      }
      List<VerifiedOutput> heard = new CopyOnWriteArrayList<>();
      ProgramRun run = client.submit(b.build(), null, heard::add);
      int seen = 0;
      for (VerifiedOutput out : run) {
        assertArrayEquals(utf8("x " + seen), out.payload());
        seen++;
      }
      assertEquals(20, seen);
      ProgramResult result = run.completion().get(10, TimeUnit.SECONDS);
      assertEquals(20, result.outputs().size());
      assertEquals(20, heard.size());
      assertTrue(client.proofCache().size() > 0);
    }
  }

  @Test
  void aFailedProgramIsAFailureWithAVerifiedReceiptNotMisbehaviour() throws Exception {
    try (HostClient client = fundedClient(host, 1000)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 64, 64, "failing");
      writer.append(client, subRecords("y", 2));
      Amount before = client.balance();
      ProgramBuilder b = writer.newProgram(client);
      b.heads();
      b.readSubRecordAtHeight(1, 7, writer.highestHead()); // there is no sub-record 7
      b.heads();
      ProgramFailedException e = assertThrows(ProgramFailedException.class, () -> client.run(b.build()));
      assertEquals(ProgramFailedException.Reason.NOT_FOUND, e.reason());
      assertEquals(1, e.instructionIndex());
      assertEquals(1, e.outputs().size());
      assertTrue(e.receipt().failed());
      assertEquals(2, e.receipt().instructionsCharged());
      assertEquals(before.units() - e.receipt().finalCost().units(), client.balance().units());
    }
  }

  @Test
  void budgetExhaustionMidProgramRefundsTheRest() throws Exception {
    try (HostClient client = fundedClient(host, 1000)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 64, 64, "budget");
      writer.append(client, subRecords("z", 2));
      ProgramBuilder b = writer.newProgram(client);
      for (int i = 0; i < 6; i++) {
        b.proveAtHeight(1, writer.highestHead());
      }
      PreparedProgram p = b.build();
      // Half of what the whole program costs when paid in full (the estimate is a loose upper bound).
      Amount budget = Amount.of(client.run(p).receipt().finalCost().units() / 2);
      Amount before = client.balance();
      ProgramFailedException e = assertThrows(ProgramFailedException.class,
          () -> client.submit(p, budget, null).result());
      assertEquals(ProgramFailedException.Reason.BUDGET, e.reason());
      assertTrue(e.outputs().size() >= 1 && e.outputs().size() < 6, "some outputs before the budget ran out");
      assertEquals(budget, e.receipt().budget());
      assertEquals(before.units() - e.receipt().finalCost().units(), client.balance().units());
    }
  }

  @Test
  void aBudgetThatRunsOutOnTheFirstDataMessageEndsWithAReceiptTheRenterAccepts() throws Exception {
    try (HostClient client = fundedClient(host, 1000)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 64, 2048, "budget-upload");
      ProgramBuilder b = writer.newProgram(client);
      List<byte[]> big = new java.util.ArrayList<>();
      for (int i = 0; i < 32; i++) {
        big.add(new byte[200]);
      }
      b.append(writer.buildRecords(List.of(big), 1));
      PreparedProgram p = b.build();
      // Enough for the start and the header (the program, the withdrawal and a few fields), far too little
      // for the first data message: no instruction is ever charged.
      long programBytes = p.encoded().length;
      Amount budget = Amount.of(1000 + 2 * programBytes + programBytes + 1000);
      Amount before = client.balance();
      ProgramFailedException e = assertThrows(ProgramFailedException.class,
          () -> client.submit(p, budget, null).result());
      assertEquals(ProgramFailedException.Reason.BUDGET, e.reason());
      assertEquals(0, e.receipt().instructionsCharged());
      assertTrue(e.receipt().uploadBytes() < p.dataLength(), "the refused data message is not counted");
      assertEquals(before.units() - e.receipt().finalCost().units(), client.balance().units());
    }
  }

  /** A budget that pays the program's start and not its header: the host charges no upload, honestly. */
  @Test
  void aBudgetThatPaysTheStartButNotTheHeaderIsAnHonestBudgetFailure() throws Exception {
    try (HostClient client = fundedClient(host, 1000)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 64, 2048, "budget-header");
      writer.append(client, List.of(utf8("one")));
      ProgramBuilder b = writer.newProgram(client);
      b.heads();
      PreparedProgram p = b.build();
      Amount start = dev.capsulevm.pricing.CostModel.of(client.priceTable()).programCost(p.encoded().length);
      Amount before = client.balance();
      ProgramFailedException e = assertThrows(ProgramFailedException.class,
          () -> client.submit(p, start, null).result());
      assertEquals(ProgramFailedException.Reason.BUDGET, e.reason());
      assertEquals(0, e.receipt().uploadBytes(), "the header's charge was refused, so nothing was counted");
      assertEquals(before.units() - e.receipt().finalCost().units(), client.balance().units());
    }
  }

  @Test
  void programDataInManySmallChunksWhileOutputsArrive() throws Exception {
    SigningKey account = SigningKey.generate();
    fund(host, account, 1000);
    try (HostClient client = HostClient.connect(host.address(), account, RenterOptions.defaults().withChunkSize(97))) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 4096, 64, "chunks");
      writer.append(client, subRecords("c", 300));
      ProgramBuilder b = writer.newProgram(client);
      for (int i = 0; i < 50; i++) {
        b.has(writer.highestHead().hash());
        b.readSubRecord(writer.highestHead().hash(), i, writer.highestHead());
        b.readByHash(Hash.copyOf(new byte[] {(byte) i, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
            19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}));
      }
      ProgramResult r = client.run(b.build());
      assertEquals(150, r.outputs().size());
      assertArrayEquals(utf8("c 49"), r.output(148).payload());
    }
  }

  @Test
  void readersRunWhileAWriteProgramIsInFlight() throws Exception {
    Tamper hold = new Tamper();
    java.util.concurrent.CountDownLatch readsDone = new java.util.concurrent.CountDownLatch(1);
    // The hold blocks the thread that delivers the write's end: its own Execute call's, not the transport
    // thread a program stream's responses arrive on (which the readers' streams may share).
    try (HostClient client = fundedClient(host, 1000,
        RenterOptions.defaults().withProgramStreams(false).withInterceptors(List.of(hold)))) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 4096, 64, "concurrent");
      writer.append(client, subRecords("base", 50));
      RecordHeader head = writer.highestHead();
      List<java.util.concurrent.CompletableFuture<ProgramResult>> reads = new ArrayList<>();
      List<HostClient> readers = new ArrayList<>();
      for (int c = 0; c < 4; c++) {
        readers.add(fundedClient(host, 1000));
      }
      try {
        ProgramBuilder w = writer.newProgram(client);
        w.append(writer.buildRecords(List.of(subRecords("new", 500)), System.currentTimeMillis()));
        // The write's end is held back (the write program stays in flight) until every read has finished.
        hold.set((position, response) -> {
          if (response.hasEnd()) {
            try {
              readsDone.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return response;
        });
        ProgramRun write = client.submit(w.build());
        for (HostClient reader : readers) {
          for (int k = 0; k < 3; k++) {
            ProgramBuilder r = new ProgramBuilder(writer.capsuleId(), writer.metadata(), List.of(head), null);
            for (int i = 0; i < 10; i++) {
              r.readSubRecordAtHeight(1, i + 10 * k, head);
            }
            reads.add(reader.submit(r.build()).completion());
          }
        }
        for (var f : reads) {
          assertEquals(10, f.get(20, TimeUnit.SECONDS).outputs().size());
        }
        assertFalse(write.completion().isDone(), "the write was still in flight during the reads");
        readsDone.countDown();
        assertEquals(1, write.result().committedHeads().size());
      } finally {
        readers.forEach(HostClient::close);
      }
    }
  }

  @Test
  void aRefusalBeforeTheBudgetIsTakenIsAPlainRenterErrorNotMisbehaviour() throws Exception {
    try (HostClient unfunded = HostClient.connect(host.address(), SigningKey.generate(), RenterOptions.defaults())) {
      ProgramBuilder b = ProgramBuilder.withoutCapsule();
      b.has(Hash.copyOf(new byte[32]));
      RenterException e = assertThrows(RenterException.class, () -> unfunded.run(b.build()));
      assertFalse(e instanceof HostMisbehaviourException || e instanceof ProgramFailedException, e.toString());
      assertTrue(e.getMessage().contains("FAILED_PRECONDITION"), e.getMessage());
      assertTrue(e.getMessage().contains("INSUFFICIENT_BALANCE"), e.getMessage());
    }
  }

  @Test
  void aTableSignedByAnotherHostThanExpectedIsRefused() throws Exception {
    try (HostClient client = HostClient.connect(host.address(), SigningKey.generate(),
        RenterOptions.defaults().withExpectedHostKey(SigningKey.generate().publicKey()))) {
      HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, client::priceTable);
      assertEquals(HostMisbehaviourException.Part.PRICE_TABLE, e.part());
    }
  }

  @Test
  void aPriceAboveTheMaximumIsRefusedNamingTheField() throws Exception {
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
    for (InstructionKind k : InstructionKind.values()) {
      m.put(k, InstructionPrice.of(1_000_000, 1_000));
    }
    m.put(InstructionKind.PROVE, InstructionPrice.of(1, 1_000));
    Amount big = Amount.of(1_000);
    MaxPrices max = new MaxPrices(new Prices(Amount.of(1_000_000), big, m, big, big, big, big));
    try (HostClient client = HostClient.connect(host.address(), SigningKey.generate(),
        RenterOptions.defaults().withMaxPrices(max))) {
      PriceTableRefusedException e = assertThrows(PriceTableRefusedException.class, client::priceTable);
      assertTrue(e.getMessage().contains("PROVE.base"), e.getMessage());
    }
  }
}
