package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.CostModel;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.pricing.ProgramShape;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.OutputBounds;
import dev.capsulevm.program.ProgramDecoder;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.WireSizes;
import dev.capsulevm.proto.v1.ExecuteRequest;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProgramBuilderTest {
  private final SigningKey creator = SigningKey.generate();
  private final SigningKey writer = SigningKey.generate();
  /** Version 1: the records here are built by hand with version-1 headers. */
  private final SignedMetadata metadata = SignedMetadata.sign(Metadata.create(creator.publicKey(), 1,
      SigningPolicy.EVERY_RECORD, 1000, 256, Map.of(writer.publicKey(), Permissions.READ | Permissions.ADD), "test"),
      creator);

  static PriceTable table() {
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
    for (InstructionKind k : InstructionKind.values()) {
      m.put(k, InstructionPrice.of(100 + k.code(), k.code()));
    }
    Prices prices = new Prices(Amount.of(1000), Amount.of(2), m, Amount.of(1), Amount.of(2), Amount.of(1), Amount.of(5));
    return new PriceTable(SigningKey.generate().publicKey(), Instant.ofEpochSecond(0), Instant.ofEpochSecond(4_000_000_000L),
        prices, new Limits(1 << 20, 1000, 1 << 20, 10_000, 16, Amount.ofCap(1_000_000)));
  }

  private RecordWithBody first(List<byte[]> payloads) {
    Record r = Record.build(metadata.capsuleId(), List.of(metadata.capsuleId()), payloads, 5, writer, true, h -> null);
    return new RecordWithBody(r, payloads);
  }

  @Test
  void identicalInputsAreStoredOnceAndReferencesMatchTheLayout() {
    ProgramBuilder b = new ProgramBuilder(metadata.capsuleId(), metadata, List.of(), null);
    RecordWithBody record = first(List.of("a".getBytes(StandardCharsets.UTF_8)));
    b.append(List.of(record));
    b.has(record.hash());
    b.readByHash(record.hash());
    PreparedProgram p = b.build();
    Instruction.HasRecord has = (Instruction.HasRecord) p.program().instructions().get(1);
    Instruction.ReadByHash read = (Instruction.ReadByHash) p.program().instructions().get(2);
    assertEquals(has.hash(), read.hash(), "the same hash is shared");
    byte[] append = AppendEncoding.encode(List.of(record));
    assertEquals(append.length + Hash.LENGTH, p.dataLength());
    assertEquals(new DataRef(0, append.length), ((Instruction.AppendRecord) p.program().instructions().get(0)).records());
    assertEquals(new DataRef(append.length, Hash.LENGTH), has.hash());
  }

  @Test
  void onlySmallInputsAreShared() {
    ProgramBuilder b = new ProgramBuilder(metadata.capsuleId(), metadata, List.of(), null);
    byte[] small = new byte[ProgramBuilder.SHARED_INPUT_BYTES];
    byte[] large = new byte[ProgramBuilder.SHARED_INPUT_BYTES + 1];
    assertEquals(b.data(small), b.data(small.clone()));
    DataRef first = b.data(large);
    DataRef second = b.data(large.clone());
    assertEquals(first.end(), second.offset(), "a large input is stored again, right after the first");
  }

  @Test
  void encodingDecodesToTheSameProgram() throws Exception {
    ProgramBuilder b = new ProgramBuilder(metadata.capsuleId(), metadata, List.of(), null);
    RecordWithBody record = first(List.of(new byte[] {1, 2, 3}));
    b.append(List.of(record));
    b.heads();
    b.readSubRecordAtHeight(1, 0, record.record().header());
    b.proveSubRecord(record.hash(), 0, record.record().header());
    PreparedProgram p = b.build();
    assertEquals(p.program(), new ProgramDecoder(table().limits()).decode(ProgramEncoding.encode(p.program())));
  }

  @Test
  void boundsFollowTheExecutorsRules() {
    ProgramBuilder b = new ProgramBuilder(metadata.capsuleId(), metadata, List.of(), null);
    RecordWithBody record = first(List.of(new byte[] {1}));
    b.append(List.of(record));
    b.heads();
    b.readSubRecord(record.hash(), 0, record.record().header());
    b.prove(Hash.copyOf(new byte[32]), record.record().header());
    PreparedProgram p = b.build();
    long envelope = WireSizes.OUTPUT_ENVELOPE_BYTES;
    Limits limits = table().limits();
    // The append's expected bound counts the heads the builder knows (none); the host's figure counts the
    // heads of its view, which only the output bounds: no limit before it.
    assertEquals(4 + 32 + envelope, p.steps().get(0).bounds().expected());
    assertEquals(-1, p.steps().get(0).limit(limits));
    assertEquals(List.of(record.hash()), p.steps().get(0).expectedHeadsOrNull());
    // Heads: exact for the heads the builder knows, checked against the output itself.
    assertEquals(4 + record.record().header().encodedLength() + 69 + envelope, p.steps().get(1).bounds().expected());
    assertEquals(-1, p.steps().get(1).limit(limits));
    // The renter holds the path (the record is its own anchor): the exact proof, and an inclusion proof
    // in a tree of one leaf (index, size, an empty path).
    // The proof's writer entry is empty for a version-1 record: its 4-byte length only.
    // The held flag leads: a version-1 capsule has no retention, so nothing else can come.
    long read = 1 + 4 + 256 + 4 + (4 + record.record().header().encodedLength()) + 4 + (8 + 8 + 4) + envelope;
    assertEquals(read, p.steps().get(2).limit(limits));
    assertEquals(read, p.steps().get(2).bounds().expected());
    // A target the renter cannot place: from heights alone, one largest header per height.
    assertEquals(4 + (4 + OutputBounds.MAX_HEADER_BYTES) + 4 + OutputBounds.MAX_MEMBER_ENTRY_BYTES + envelope,
        p.steps().get(3).limit(limits));
  }

  @Test
  void estimateCountsTheExactRequestMessages() {
    PriceTable table = table();
    ProgramBuilder b = ProgramBuilder.withoutCapsule();
    b.createCapsule(metadata);
    PreparedProgram p = b.build();
    ProgramShape shape = HostClient.shape(p, table, 3, 64);
    List<ExecuteRequest> sent = ProgramRun.requests(p, table.id(), Payment.blank(false, false), 3, 64,
        HostClient.statedHeads(p, false));
    assertTrue(sent.size() > 2, "the metadata spans several 64-byte chunks");
    long bytes = sent.stream().mapToLong(ExecuteRequest::getSerializedSize).sum();
    assertEquals(bytes, shape.requestBytes());
    CostBreakdown estimate = CostModel.of(table).estimate(shape);
    assertEquals(CostModel.of(table).estimate(new ProgramShape(p.encodedLength(), bytes, 3, p.estimateDescriptors())),
        estimate);
    assertEquals(5L * metadata.encoded().length * 3, estimate.storage().units());
  }

  @Test
  void headsAndSignatureChecksNeedTheMetadata() {
    ProgramBuilder idOnly = new ProgramBuilder(metadata.capsuleId(), null, null, null);
    assertThrows(IllegalStateException.class, idOnly::heads);
    assertThrows(IllegalStateException.class, () -> idOnly.readByHash(Hash.copyOf(new byte[32])));
    idOnly.metadata();
    idOnly.has(Hash.copyOf(new byte[32]));
    assertThrows(IllegalArgumentException.class,
        () -> ProgramBuilder.forCapsule(first(List.of(new byte[] {1})).hash(), metadata), "another capsule's");
    assertThrows(IllegalStateException.class, () -> ProgramBuilder.withoutCapsule().metadata());
    assertThrows(IllegalArgumentException.class,
        () -> new ProgramBuilder(Hash.copyOf(new byte[32]), null, null, null), "32 zero bytes name no capsule");
  }

  @Test
  void readsNeedTheMetadataAndACapsule() {
    RecordWithBody record = first(List.of(new byte[] {1}));
    assertThrows(IllegalStateException.class,
        () -> ProgramBuilder.withoutCapsule().readSubRecord(record.hash(), 0, record.record().header()));
    assertThrows(IllegalStateException.class,
        () -> new ProgramBuilder(metadata.capsuleId(), null, null, null).readSubRecord(record.hash(), 0,
            record.record().header()));
  }
}
