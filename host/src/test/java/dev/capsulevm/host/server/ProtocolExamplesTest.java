package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.CodedOutputStream;
import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.pricing.CostModel;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.ProgramShape;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.pricing.SignedWithdrawal;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputBounds;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.SkipPointers;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.proto.v1.ExecuteRequest;
import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.testing.Await;
import dev.capsulevm.vm.exec.ExecFixture;
import dev.capsulevm.vm.exec.Executor;
import dev.capsulevm.vm.exec.InstructionOutput;
import dev.capsulevm.vm.exec.Outcome;
import dev.capsulevm.vm.exec.PendingCommit;
import dev.capsulevm.vm.storage.InMemoryCapsuleStorage;
import io.grpc.Status;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recomputes from the code every figure of the worked examples in docs/PROTOCOL.md that define what an
 * instruction is charged for ("What each instruction is charged for", "Output bounds", "Duration units",
 * "Bandwidth: the messages counted", "Cancelled programs") and the bytes of a not-found output
 * ("Outputs"), so the document and the code cannot drift apart. Every literal here is a figure the
 * document prints. The examples run on docs/FORMAT.md's example capsule (its metadata and records 1 to 4).
 */
class ProtocolExamplesTest {
  static final long TIME = 1_700_000_000_000L;
  static final long BUDGET = 1_000_000;
  static final long FUNDS = 10_000_000;
  static final long ENVELOPE = WireSizes.OUTPUT_ENVELOPE_BYTES;

  @TempDir
  Path dir;

  /** docs/FORMAT.md's example capsule: the signed metadata "example" and records 1 to 4 in a chain. */
  static final class Capsule {
    final SignedMetadata metadata;
    final List<RecordWithBody> records = new ArrayList<>();
    final InMemoryRecordSource headers = new InMemoryRecordSource();

    Capsule() {
      SigningKey creator = seeded(1);
      SigningKey writer = seeded(2);
      metadata = SignedMetadata.sign(Metadata.create(creator.publicKey(), TIME, SigningPolicy.EVERY_RECORD, 1024,
          65536, Map.of(writer.publicKey(), Permissions.READ | Permissions.ADD), "example"), creator);
      Hash parent = metadata.capsuleId();
      for (int height = 1; height <= 4; height++) {
        List<byte[]> payloads = height == 1 ? List.of(bytes("a"), bytes("b"), bytes("c"))
            : List.of(bytes("record " + height));
        Record record = Record.build(metadata.capsuleId(), List.of(parent), payloads, TIME + height, writer, true,
            headers);
        headers.add(record.header());
        records.add(new RecordWithBody(record, payloads));
        parent = record.hash();
      }
    }

    Hash id() {
      return metadata.capsuleId();
    }

    RecordWithBody record(int height) {
      return records.get(height - 1);
    }

    RecordHeader header(int height) {
      return record(height).record().header();
    }
  }

  private static SigningKey seeded(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Example A: creates the capsule and appends records 1 to 4 in one program. */
  static ProgramBuilder exampleA(Capsule c) {
    ProgramBuilder b = new ProgramBuilder(c.id());
    b.add(new Instruction.CreateCapsule(b.put(c.metadata.encoded())));
    b.add(new Instruction.AppendRecord(b.put(AppendEncoding.encode(c.records))));
    return b;
  }

  /** Example B: six reads sharing the anchor a (record 4) and the target t (record 1); u is held by nobody. */
  static ProgramBuilder exampleB(Capsule c) {
    ProgramBuilder b = new ProgramBuilder(c.id());
    DataRef a = b.put(c.record(4).hash());
    DataRef t = b.put(c.record(1).hash());
    DataRef u = b.put(new byte[32]);
    b.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(t), 1, a));
    b.add(Instruction.Prove.record(a, new RecordSelector.ByHash(t)));
    b.add(Instruction.Prove.record(a, new RecordSelector.ByHeight(3)));
    b.add(new Instruction.HasRecord(t));
    b.add(new Instruction.ReadByHash(u));
    b.add(new Instruction.Heads());
    return b;
  }

  /** Example C: two proofs from record 4; the renter sends only the anchor's bytes, then cancels. */
  static ProgramBuilder exampleC(Capsule c) {
    ProgramBuilder b = new ProgramBuilder(c.id());
    DataRef a = b.put(c.record(4).hash());
    DataRef t = b.put(c.record(1).hash());
    b.add(Instruction.Prove.record(a, new RecordSelector.ByHeight(3)));
    b.add(Instruction.Prove.record(a, new RecordSelector.ByHash(t)));
    return b;
  }

  private static InstructionDescriptor descriptor(InstructionKind kind, long in, long maxOut, long storage) {
    return new InstructionDescriptor(kind, in, maxOut, storage);
  }

  // ------------------------------------------------------------ What each instruction is charged for

  @Test
  void exampleA_and_B_chargedFiguresAreTheExecutors() throws Exception {
    Capsule c = new Capsule();
    assertEquals("a2998319ae73c781cdaa63dfeb9191e2f192ffe5289fcc06184e41495dc55c74", c.id().toHex(),
        "docs/FORMAT.md's example capsule");
    assertEquals(65_536, c.metadata.metadata().maxSubRecordBytes());
    // The record sizes the examples add up.
    assertEquals(158, c.metadata.encoded().length);
    assertEquals(54 + 33 + 7 + 64, c.metadata.encoded().length);
    for (int height = 1; height <= 3; height++) {
      assertEquals(151, c.header(height).encodedLength());
    }
    assertEquals(183, c.header(4).encodedLength());
    assertEquals(119 + 32, 151);
    assertEquals(119 + 32 + 32, 183);
    byte[] append = AppendEncoding.encode(c.records);
    assertEquals(983, append.length);
    assertEquals(4 + 239 + 236 + 236 + 268, 983);
    assertEquals(4 + 151 + 1 + 64 + 4 + 3 * (4 + 1), 239);
    assertEquals(4 + 151 + 1 + 64 + 4 + (4 + 8), 236);
    assertEquals(4 + 183 + 1 + 64 + 4 + (4 + 8), 268);
    assertEquals(4, AppendEncoding.declaredCountBound(append));

    InMemoryCapsuleStorage storage = new InMemoryCapsuleStorage();
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try {
      Executor executor = new Executor(storage, new SettableClock(ExecFixture.START), Duration.ofHours(1),
          Duration.ofSeconds(10), ENVELOPE, ExecFixture.HOST, scheduler);
      ProgramBuilder a = exampleA(c);
      List<InstructionOutput> outA = new ArrayList<>();
      Outcome outcome = executor.run(a.program(), a.data(), a.meter(BUDGET, new AtomicLong()), outA::add);
      assertInstanceOf(PendingCommit.class, outcome).confirm();
      assertEquals(List.of(
          descriptor(InstructionKind.CREATE_CAPSULE, 158, 80, 158),
          descriptor(InstructionKind.APPEND_RECORD, 983, 180, 983)),
          outA.stream().map(InstructionOutput::charged).toList());
      assertEquals(OutputBounds.CREATE_CAPSULE + ENVELOPE, 80);
      assertEquals(OutputBounds.append(0, 4) + ENVELOPE, 180);
      assertEquals(4 + 32 * 4 + 48, 180);

      ProgramBuilder b = exampleB(c);
      assertEquals(96, b.bytes().length);
      List<InstructionOutput> outB = new ArrayList<>();
      executor.run(b.program(), b.data(), b.meter(BUDGET, new AtomicLong()), outB::add);
      assertEquals(List.of(
          descriptor(InstructionKind.READ_SUB_RECORD, 64, 66_178, 0),
          descriptor(InstructionKind.PROVE, 64, 553, 0),
          descriptor(InstructionKind.PROVE, 32, 398, 0),
          descriptor(InstructionKind.HAS_RECORD, 32, 204, 0),
          descriptor(InstructionKind.READ_BY_HASH, 32, 49, 0),
          descriptor(InstructionKind.HEADS, 0, 304, 0)),
          outB.stream().map(InstructionOutput::charged).toList());
      assertEquals(224, b.program().instructions().stream().mapToLong(Instruction::inputBytes).sum());

      // The bounds, recomputed from OutputBounds and the headers on each path.
      ProofGenerator paths = new ProofGenerator(c.headers);
      long toRecord1 = OutputBounds.proof(
          paths.primaryChainProofOrNull(c.record(4).hash(), c.record(1).hash()), false);
      assertEquals(505, toRecord1);
      assertEquals(4 + (4 + 183) + (4 + 151) + (4 + 151) + 4, 505); // + the empty writer entry's length
      assertEquals(List.of(c.header(4), c.header(2), c.header(1)),
          paths.recordProof(c.record(4).hash(), c.record(1).hash()).headers());
      assertEquals(84, OutputBounds.inclusion(3));
      assertEquals(8 + 8 + 4 + 2 * 32, 84);
      assertEquals(1 + 4 + 65_536 + 505 + 84 + 48, 66_178); // the held flag, the payload's length and bytes
      assertEquals(OutputBounds.readSubRecord(c.metadata.metadata().maxSubRecordBytes(), OutputBounds.proof(
          paths.primaryChainProofOrNull(c.record(4).hash(), c.record(1).hash()), true)) + ENVELOPE, 66_178);
      assertEquals(toRecord1 + ENVELOPE, 553);
      long toHeight3 = OutputBounds.proof(paths.primaryChainProofOrNull(c.record(4).hash(), c.record(3).hash()), false);
      assertEquals(350, toHeight3);
      assertEquals(4 + (4 + 183) + (4 + 151) + 4, 350);
      assertEquals(toHeight3 + ENVELOPE, 398);
      // HasRecord and ReadByHash are charged exactly: record 1's header (held), the absent flag for u.
      assertEquals(OutputBounds.hasRecord(c.header(1)) + ENVELOPE, 204);
      assertEquals(1 + 4 + 151 + 48, 204);
      assertEquals(OutputBounds.readByHash(null) + ENVELOPE, 49);
      assertEquals(1 + 48, 49);
      assertEquals(4 + OutputBounds.head(c.header(4)) + ENVELOPE, 304);
      assertEquals(4 + (183 + 69) + 48, 304);

      // What came back: the held header, the absent flag alone.
      assertEquals(156, OutputEncoding.encode(outB.get(3).output()).length);
      assertEquals(1 + 4 + 151, 156);
      assertArrayEquals(new byte[] {0}, OutputEncoding.encode(outB.get(4).output()));
    } finally {
      scheduler.shutdownNow();
      assertTrue(scheduler.awaitTermination(10, TimeUnit.SECONDS));
    }
  }

  // ------------------------------------------------------------ Output bounds

  @Test
  void outputBoundConstants() {
    assertEquals(24_633, OutputBounds.MAX_HEADER_BYTES);
    assertEquals(153 + 3 * 255 * 32, 24_633);
    assertEquals(1_043, OutputBounds.MAX_MEMBER_ENTRY_BYTES);
    assertEquals(19 + 32 * 32, 1_043);
    // The skip rule allows at most 61 skip pointers, so no valid header reaches the bound: the largest
    // is 119 + 32 * (255 + 61) bytes. A height's count depends only on its trailing zeros and on whether
    // it is a power of two, so heights 2^z and 3 * 2^z (below 2^63) cover every case.
    int mostSkips = 0;
    for (int zeros = 0; zeros < 63; zeros++) {
      for (long odd : new long[] {1, 3}) {
        long height = odd << zeros;
        if (height > 0 && height >> zeros == odd) {
          mostSkips = Math.max(mostSkips, SkipPointers.count(height));
        }
      }
    }
    assertEquals(61, mostSkips);
    assertEquals(10_231, 119 + 32 * (255 + 61));
    assertEquals(18_425, 153 + 32 * (255 + 255 + 61));
    assertEquals(18_489, 217 + 32 * (255 + 255 + 61)); // a version-3 data header: epoch key and enc
    assertEquals(2_068, OutputBounds.MAX_INCLUSION_BYTES);
    assertEquals(8 + 8 + 4 + 64 * 32, 2_068);
    assertEquals(1_044, OutputBounds.inclusion(0xFFFF_FFFFL));
    assertEquals(8 + 8 + 4 + 32 * 32, 1_044);
    assertEquals(20, OutputBounds.inclusion(1));
    assertEquals(69, OutputBounds.RECORD_OVERHEAD);
    assertEquals(32, OutputBounds.CREATE_CAPSULE);
    assertEquals(24_638, OutputBounds.HAS_RECORD);
    assertEquals(1 + 4 + 24_633, 24_638);
    assertEquals(24_711, OutputBounds.READ_BY_HASH);
    assertEquals(24_638 + 1 + 64 + 8, 24_711);
    // Had record 1 been off record 4's primary chain: one largest header per height, the largest entry.
    assertEquals(99_599, OutputBounds.proofByHeights(4, 1, false, 0));
    assertEquals(4 + 4 * (4 + 24_633) + 4 + 1_043, 99_599);

    // The envelope: the widest each field of an ExecuteResponse carrying an InstructionResult can be.
    int index = CodedOutputStream.computeUInt32Size(1, -1);
    int cost = CodedOutputStream.computeUInt64Size(2, -1L);
    int output = CodedOutputStream.computeTagSize(3) + CodedOutputStream.computeUInt32SizeNoTag(Integer.MAX_VALUE);
    int bound = CodedOutputStream.computeUInt64Size(4, -1L);
    int outer = CodedOutputStream.computeTagSize(1) + CodedOutputStream.computeUInt32SizeNoTag(Integer.MAX_VALUE);
    assertEquals(List.of(6, 11, 6, 11, 6), List.of(index, cost, output, bound, outer));
    assertEquals(40, index + cost + output + bound + outer);
    assertEquals(48, ENVELOPE);
  }

  // ------------------------------------------------------------ Outputs: not found

  @Test
  void notFoundOutputsAreTheAbsentFlagAlone() throws Exception {
    Instruction.HasRecord has = new Instruction.HasRecord(new DataRef(0, 32));
    Instruction.ReadByHash read = new Instruction.ReadByHash(new DataRef(0, 32));
    assertArrayEquals(new byte[] {0}, OutputEncoding.encode(new Output.Has(false, null)));
    assertArrayEquals(new byte[] {0}, OutputEncoding.encode(new Output.ByHash(null, 0)));
    assertFalse(assertInstanceOf(Output.Has.class, OutputEncoding.decode(has, new byte[] {0})).held());
    assertNull(assertInstanceOf(Output.ByHash.class, OutputEncoding.decode(read, new byte[] {0})).recordOrNull());
    // Anything after the flag is refused, a zero sub-record count or header length included.
    assertThrows(VerificationException.class, () -> OutputEncoding.decode(has, new byte[] {0, 0, 0, 0, 0}));
    assertThrows(VerificationException.class, () -> OutputEncoding.decode(read, new byte[9]));
    assertThrows(VerificationException.class, () -> OutputEncoding.decode(read, new byte[0]));
  }

  // ------------------------------------------------------------ Duration units

  @Test
  void durationUnitsMultiplyTheStoragePart() {
    CostModel model = new CostModel(PriceTables.defaultPrices());
    assertEquals(5, model.prices().storagePerByteDurationUnit().units());
    InstructionDescriptor create = descriptor(InstructionKind.CREATE_CAPSULE, 158, 80, 158);
    InstructionDescriptor append = descriptor(InstructionKind.APPEND_RECORD, 983, 180, 983);
    assertEquals(790, model.storageCost(create, 1).units());
    assertEquals(4_915, model.storageCost(append, 1).units());
    assertEquals(5 * (158 + 983), 5_705);
    assertEquals(5_705, model.storageCost(create, 1).plus(model.storageCost(append, 1)).units());
    assertEquals(171_150, model.storageCost(create, 30).plus(model.storageCost(append, 30)).units());
    assertEquals(0, model.storageCost(append, 0).units());
  }

  // ------------------------------------------------------------ Bandwidth: the messages counted

  @Test
  void downloadBytesCountTheExecuteResponsesCarryingResults() throws Exception {
    Capsule c = new Capsule();
    try (TestHost t = new TestHost(TestHost.config(dir))) {
      SigningKey account = SigningKey.generate();
      t.fund(account, FUNDS);
      PriceTable table = t.table().table();

      Run created = run(t, exampleA(c), table, account);
      assertEquals(Status.Code.OK, created.status().getCode(), () -> created.status().toString());
      Receipt a = created.receipt().verify(table.hostKey());
      assertEquals(5_705, a.cost().storage().units(), "durationUnits 1 at 5 units per byte and duration unit");

      Run read = run(t, exampleB(c), table, account);
      assertEquals(Status.Code.OK, read.status().getCode(), () -> read.status().toString());
      assertEquals(List.of(66_178L, 553L, 398L, 204L, 49L, 304L),
          read.results().stream().map(r -> r.getResult().getMaxOutputBytes()).toList());
      long responses = read.results().stream().mapToLong(ExecuteResponse::getSerializedSize).sum();
      long results = read.results().stream().mapToLong(r -> r.getResult().getSerializedSize()).sum();
      Receipt receipt = read.receipt().verify(table.hostKey());
      assertEquals(responses, receipt.downloadBytes());
      assertEquals(1_949, receipt.downloadBytes());
      assertEquals(1_932, results);
      // Each message adds its field tag and a length of 2 bytes, or of 1 byte below 128 (message 4).
      assertEquals(List.of(609, 520, 365, 171, 13, 271),
          read.results().stream().map(ExecuteResponse::getSerializedSize).toList());
      assertEquals(1_949 - 1_932, 5 * 3 + 2);

      // Instruction 4's message: ReadByHash of u, not found.
      ExecuteResponse notFound = read.results().get(4);
      assertEquals(146_108, notFound.getResult().getCostSoFar());
      assertEquals("0a0b080410bcf5081a01002031", HexFormat.of().formatHex(notFound.toByteArray()));
      assertEquals(13, notFound.getSerializedSize());
      assertEquals(11, notFound.getResult().getSerializedSize());
      assertEquals(2 + 4 + 3 + 2, 11);
      assertEquals(1 + 1 + 11, 13);
    }
  }

  // ------------------------------------------------------------ Cancelled programs

  @Test
  void aCancelledProgramIsChargedWhatRanBeforeTheHostNoticed() throws Exception {
    Capsule c = new Capsule();
    try (TestHost t = new TestHost(TestHost.config(dir))) {
      SigningKey account = SigningKey.generate();
      t.fund(account, FUNDS);
      PriceTable table = t.table().table();
      assertEquals(Status.Code.OK, run(t, exampleA(c), table, account).status().getCode());

      ProgramBuilder program = exampleC(c);
      byte[] encoded = program.encoded();
      assertEquals(122, encoded.length);
      assertEquals(46 + 34 + 42, 122);
      long before = t.balance(account);
      TestHost.Stream s = t.open();
      ExecuteRequest header = TestHost.header(encoded, table, TestHost.withdrawal(account, table, BUDGET), 1);
      ExecuteRequest anchorOnly = TestHost.data(program.bytes(), 0, 32);
      s.send(header);
      s.send(anchorOnly);
      ExecuteResponse first = s.response();
      assertEquals(0, first.getResult().getIndex());
      assertEquals(398, first.getResult().getMaxOutputBytes());
      s.requests.cancel("the renter stops", null);
      // The budget was only held: the balance moves once, when the program settles, by its cost.
      long after = Await.value("the cancelled program is settled", () -> t.balance(account),
          balance -> balance != before);

      // What the renter recomputes from what it sent and received.
      assertEquals(351, header.getSerializedSize());
      assertEquals(185, SignedWithdrawal.LENGTH);
      assertEquals(3 + (2 + 122) + (2 + 32) + (3 + 185) + 2, 351);
      assertEquals(34, anchorOnly.getSerializedSize());
      assertEquals(362, first.getSerializedSize());
      assertEquals(3 + 3 + (3 + 350) + 3, 362);
      CostModel model = CostModel.of(table);
      InstructionDescriptor proveHeight3 = descriptor(InstructionKind.PROVE, 32, 398, 0);
      InstructionDescriptor proveRecord1 = descriptor(InstructionKind.PROVE, 64, 553, 0);
      ProgramShape shape = new ProgramShape(122, 351 + 34, 1, List.of(proveHeight3, proveRecord1));
      long least = model.finalCost(shape, 1, 351 + 34, 362, true).total().units();
      long most = model.finalCost(shape, 2, 351 + 34, 362 + 553, true).total().units();
      assertEquals(1_244, model.programCost(122).units());
      assertEquals(1_000 + 2 * 122, 1_244);
      assertEquals(1_660, model.instructionCost(proveHeight3).units());
      assertEquals(1_290, model.memoryCost(proveHeight3).units());
      assertEquals(1_244 + 1_660 + 1_290 + (351 + 34) + 2 * 362, 5_303);
      assertEquals(5_303, least);
      assertEquals(2_034, model.instructionCost(proveRecord1).units());
      assertEquals(1_851, model.memoryCost(proveRecord1).units());
      assertEquals(5_303 + 2_034 + 1_851 + 2 * 553, 10_294);
      assertEquals(10_294, most);
      // The host was waiting for t when the cancellation came, so it charged the least.
      assertEquals(5_303, before - after);
    }
  }

  // ------------------------------------------------------------ the document itself

  @Test
  void theDocumentPrintsTheseFiguresAndNamesEveryTest() throws Exception {
    Path doc = Path.of("..", "docs", "PROTOCOL.md");
    assertTrue(Files.exists(doc), "docs/PROTOCOL.md is part of the project");
    String text = Files.readString(doc);
    for (Method method : ProtocolExamplesTest.class.getDeclaredMethods()) {
      if (method.isAnnotationPresent(Test.class) && !method.getName().startsWith("theDocument")) {
        assertTrue(text.contains("`ProtocolExamplesTest." + method.getName() + "`"),
            "docs/PROTOCOL.md names " + method.getName() + " next to its example");
      }
    }
    for (String figure : List.of("**80**", "**180**", "**66,178**", "**553**", "**398**", "**204**",
        "**49**", "**304**", "224 bytes charged for 96 bytes", "**5,705**", "**171,150**",
        "0a 0b ", "   08 04 ", "   10 bc f5 08 ", "   1a 01 00 ", "   20 31 ", "146,108",
        "`downloadBytes` = 1,949", "1,932", "609, 520, 365, 171, 13 and 271", "**5,303**", "**10,294**",
        "= 99,599", "= 10,231 bytes", "= 18,425", "= 18,489", "= 2,068", "= 1,044", "= 24,633", "= 1,043", "= 24,638",
        "= 24,711")) {
      assertTrue(text.contains(figure), () -> "docs/PROTOCOL.md prints " + figure);
    }
  }

  /** Runs {@code program} with its data in one message, storage paid for one duration unit. */
  private static Run run(TestHost t, ProgramBuilder program, PriceTable table, SigningKey account) throws Exception {
    TestHost.Stream s = t.open();
    s.send(TestHost.header(program.encoded(), table, TestHost.withdrawal(account, table, BUDGET), 1));
    byte[] d = program.bytes();
    s.send(TestHost.data(d, 0, d.length));
    return TestHost.finish(s, true);
  }
}
