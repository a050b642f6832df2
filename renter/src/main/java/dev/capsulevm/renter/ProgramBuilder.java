package dev.capsulevm.renter;

import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.OutputBounds;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proto.WireSizes;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Builds a program: instructions whose inputs are (offset, length) ranges of one program data buffer,
 * laid out in instruction order, identical inputs stored once and shared. Each method returns the
 * instruction's index, which is the index of its output.
 *
 * <p>The builder also works out, per instruction, the renter's own upper bound on its output (the rules
 * of the host's, from {@link OutputBounds}) and what the output must say (the
 * capsule id a create yields, the heads an append leaves, the record a read proves). It needs to know
 * for that: the capsule's signed metadata (sub-record size limit, writers), the capsule's current heads
 * when known, and the headers it already verified (trusted anchors, cached records). Where it does not
 * know enough to bound an output (the heads of a capsule whose heads it has not seen), the estimate uses
 * an allowance of {@link #UNKNOWN_HEADS_ALLOWANCE} heads and the host's bound is only checked against
 * the output it actually sent.
 */
public final class ProgramBuilder {
  /** How many heads the estimate allows for when the capsule's heads are not known. */
  public static final int UNKNOWN_HEADS_ALLOWANCE = 16;

  private final @Nullable Hash capsuleIdOrNull;
  private final @Nullable SignedMetadata metadataOrNull;
  private final Function<Hash, @Nullable RecordHeader> knownHeaders;
  /** The capsule's heads as they will be after the appends so far; null when not known. */
  private final @Nullable TreeMap<Hash, RecordHeader> heads;
  private final Map<Hash, RecordHeader> staged = new HashMap<>();
  private final ByteArrayOutputStream data = new ByteArrayOutputStream();
  private final Map<ByteBuffer, DataRef> shared = new HashMap<>();
  private final List<Step> steps = new ArrayList<>();

  /**
   * @param capsuleIdOrNull the capsule the program runs against; null for a program that only creates
   *     capsules or reads by hash
   * @param metadataOrNull the capsule's signed metadata, needed for sub-record reads and appends
   * @param headsOrNull the capsule's current heads, or null when not known
   * @param knownHeaders verified headers by hash (returns null for unknown ones); null when none are known
   */
  public ProgramBuilder(@Nullable Hash capsuleIdOrNull, @Nullable SignedMetadata metadataOrNull,
      @Nullable List<RecordHeader> headsOrNull, @Nullable Function<Hash, @Nullable RecordHeader> knownHeaders) {
    this.capsuleIdOrNull = capsuleIdOrNull;
    this.metadataOrNull = metadataOrNull;
    this.knownHeaders = knownHeaders == null ? h -> null : knownHeaders;
    if (metadataOrNull != null && capsuleIdOrNull != null && !metadataOrNull.capsuleId().equals(capsuleIdOrNull)) {
      throw new IllegalArgumentException("metadata of " + metadataOrNull.capsuleId() + " given for " + capsuleIdOrNull);
    }
    if (headsOrNull == null) {
      heads = null;
    } else {
      heads = new TreeMap<>();
      for (RecordHeader head : headsOrNull) {
        heads.put(head.hash(), head);
      }
    }
  }

  /** A builder for a program that names no capsule (creating capsules, reading by hash). */
  public static ProgramBuilder withoutCapsule() {
    return new ProgramBuilder(null, null, null, null);
  }

  /**
   * What the renter expects of one instruction's output. {@code expectedCapsuleId} is set for a
   * {@code CreateCapsule}, {@code anchor} for a read or a proof, {@code lookupHash} for a {@code HasRecord}
   * or a {@code ReadByHash}; each is null for the other instructions.
   */
  @SuppressWarnings("ArrayRecordComponent") // never compared: the builder's expectations, held in a list
  record Step(Instruction instruction, long renterBoundOrMinusOne, long estimateBound, long storageBytes,
      @Nullable Hash expectedCapsuleId, @Nullable List<Hash> expectedHeadsOrNull, @Nullable Hash anchor,
      @Nullable Hash targetHashOrNull, long targetHeight, long subRecordIndex, @Nullable Hash lookupHash,
      @Nullable SignedMetadata metadataOrNull, byte @Nullable [] payloadOrNull) {

    InstructionDescriptor estimateDescriptor() {
      return new InstructionDescriptor(instruction.kind(), instruction.inputBytes(), estimateBound, storageBytes);
    }
  }

  /** Adds {@code bytes} to the program data, or reuses an identical earlier input. */
  public DataRef data(byte[] bytes) {
    ByteBuffer key = ByteBuffer.wrap(bytes.clone());
    DataRef existing = shared.get(key);
    if (existing != null) {
      return existing;
    }
    DataRef ref = new DataRef(data.size(), bytes.length);
    data.writeBytes(bytes);
    shared.put(key, ref);
    return ref;
  }

  /** {@code CreateCapsule}: stores {@code metadata}; the output must be its capsule id. */
  public int createCapsule(SignedMetadata metadata) {
    DataRef ref = data(metadata.encoded());
    long bound = OutputBounds.CREATE_CAPSULE + WireSizes.OUTPUT_ENVELOPE_BYTES;
    return add(new Step(new Instruction.CreateCapsule(ref), bound, bound, ref.length(), metadata.capsuleId(),
        null, null, null, 0, -1, null, metadata, null));
  }

  /**
   * {@code AppendRecord}: validates and stages {@code records} (in order; each may follow earlier
   * ones). When the heads are known the output must be exactly the heads they leave.
   */
  public int append(List<RecordWithBody> records) {
    requireCapsule("append");
    if (records.isEmpty()) {
      throw new IllegalArgumentException("an append holds at least one record");
    }
    DataRef ref = data(AppendEncoding.encode(records));
    List<Hash> expected = null;
    long bound;
    long estimate;
    if (heads != null) {
      bound = OutputBounds.append(heads.size(), records.size()) + WireSizes.OUTPUT_ENVELOPE_BYTES;
      estimate = bound;
      for (RecordWithBody item : records) {
        for (Hash parent : item.record().header().parents()) {
          heads.remove(parent);
        }
        heads.put(item.hash(), item.record().header());
      }
      expected = List.copyOf(heads.keySet());
    } else {
      bound = -1;
      estimate = OutputBounds.append(UNKNOWN_HEADS_ALLOWANCE, records.size()) + WireSizes.OUTPUT_ENVELOPE_BYTES;
    }
    for (RecordWithBody item : records) {
      staged.put(item.hash(), item.record().header());
    }
    return add(new Step(new Instruction.AppendRecord(ref), bound, estimate, ref.length(), null, expected,
        null, null, 0, -1, null, metadataOrNull, null));
  }

  /** {@code ReadSubRecord} of the record {@code target}, proven from the trusted {@code anchor}. */
  public int readSubRecord(Hash target, long index, RecordHeader anchor) {
    return read(new RecordSelector.ByHash(data(target.toByteArray())), target, heightOf(target), index, anchor);
  }

  /** {@code ReadSubRecord} of the record at {@code height}, proven from the trusted {@code anchor}. */
  public int readSubRecordAtHeight(long height, long index, RecordHeader anchor) {
    return read(new RecordSelector.ByHeight(height), null, height, index, anchor);
  }

  private int read(RecordSelector selector, @Nullable Hash targetOrNull, long targetHeight, long index,
      RecordHeader anchor) {
    requireCapsule("readSubRecord");
    if (metadataOrNull == null) {
      throw new IllegalStateException("reading a sub-record needs the capsule's metadata (its sub-record size limit)");
    }
    DataRef anchorRef = data(anchor.hash().toByteArray());
    long bound = 4 + metadataOrNull.metadata().maxSubRecordBytes()
        + proofBound(anchor, targetOrNull, targetHeight, true) + WireSizes.OUTPUT_ENVELOPE_BYTES;
    return add(new Step(new Instruction.ReadSubRecord(selector, index, anchorRef), bound, bound, 0, null, null,
        anchor.hash(), targetOrNull, targetHeight, index, null, metadataOrNull, null));
  }

  /** {@code Prove} that record {@code target} descends from the trusted {@code anchor}. */
  public int prove(Hash target, RecordHeader anchor) {
    return prove(target, heightOf(target), -1, anchor, null);
  }

  /**
   * {@code Prove} sub-record {@code index} of record {@code target} from the trusted {@code anchor}.
   * Without the payload the inclusion path's hashes cannot be checked (its index, tree size and length
   * are); {@link #proveSubRecord(Hash, long, RecordHeader, byte[])} checks them against a payload the
   * renter holds.
   */
  public int proveSubRecord(Hash target, long index, RecordHeader anchor) {
    return proveSubRecord(target, index, anchor, null);
  }

  /** {@code Prove} that {@code payload} is sub-record {@code index} of {@code target}, from {@code anchor}. */
  public int proveSubRecord(Hash target, long index, RecordHeader anchor, byte @Nullable [] payloadOrNull) {
    if (index < 0) {
      throw new IllegalArgumentException("sub-record indexes are never negative, got " + index);
    }
    return prove(target, heightOf(target), index, anchor, payloadOrNull == null ? null : payloadOrNull.clone());
  }

  /** {@code Prove} that the record at {@code height} descends from the trusted {@code anchor}. */
  public int proveAtHeight(long height, RecordHeader anchor) {
    return prove(null, height, -1, anchor, null);
  }

  private int prove(@Nullable Hash targetOrNull, long targetHeight, long index, RecordHeader anchor,
      byte @Nullable [] payloadOrNull) {
    requireCapsule("prove");
    DataRef anchorRef = data(anchor.hash().toByteArray());
    RecordSelector selector = targetOrNull == null ? new RecordSelector.ByHeight(targetHeight)
        : new RecordSelector.ByHash(data(targetOrNull.toByteArray()));
    long bound = proofBound(anchor, targetOrNull, targetHeight, index >= 0) + WireSizes.OUTPUT_ENVELOPE_BYTES;
    return add(new Step(new Instruction.Prove(anchorRef, selector, index), bound, bound, 0, null, null,
        anchor.hash(), targetOrNull, targetHeight, index, null, metadataOrNull, payloadOrNull));
  }

  /** {@code HasRecord}: whether the host holds {@code record}, in any capsule. */
  public int has(Hash record) {
    long bound = OutputBounds.HAS_RECORD + WireSizes.OUTPUT_ENVELOPE_BYTES;
    return add(new Step(new Instruction.HasRecord(data(record.toByteArray())), bound, bound, 0, null, null, null,
        null, 0, -1, record, metadataOrNull, null));
  }

  /** {@code ReadByHash}: the record {@code record} (header and signature), from any capsule. */
  public int readByHash(Hash record) {
    long bound = OutputBounds.READ_BY_HASH + WireSizes.OUTPUT_ENVELOPE_BYTES;
    return add(new Step(new Instruction.ReadByHash(data(record.toByteArray())), bound, bound, 0, null, null, null,
        null, 0, -1, record, metadataOrNull, null));
  }

  /** {@code Heads}: the capsule's current heads, each checked to be signed by a writer. */
  public int heads() {
    requireCapsule("heads");
    long bound;
    long estimate;
    if (heads != null) {
      long out = 4;
      for (RecordHeader head : heads.values()) {
        out += OutputBounds.head(head);
      }
      bound = out + WireSizes.OUTPUT_ENVELOPE_BYTES;
      estimate = bound;
    } else {
      bound = -1;
      estimate = 4 + UNKNOWN_HEADS_ALLOWANCE * (OutputBounds.MAX_HEADER_BYTES + OutputBounds.RECORD_OVERHEAD)
          + WireSizes.OUTPUT_ENVELOPE_BYTES;
    }
    return add(new Step(new Instruction.Heads(), bound, estimate, 0, null, null, null, null, 0, -1, null,
        metadataOrNull, null));
  }

  /** The number of instructions so far. */
  public int size() {
    return steps.size();
  }

  /** The program, its canonical encoding, its data and what the renter expects of every output. */
  public PreparedProgram build() {
    if (steps.isEmpty()) {
      throw new IllegalStateException("a program holds at least one instruction");
    }
    List<Instruction> instructions = new ArrayList<>();
    steps.forEach(s -> instructions.add(s.instruction()));
    byte[] bytes = data.toByteArray();
    Program program = new Program(capsuleIdOrNull, instructions, bytes.length);
    return new PreparedProgram(program, ProgramEncoding.encode(program), bytes, steps);
  }

  private int add(Step step) {
    steps.add(step);
    return steps.size() - 1;
  }

  private void requireCapsule(String what) {
    if (capsuleIdOrNull == null) {
      throw new IllegalStateException(what + " needs a program that names a capsule");
    }
  }

  /** The target's height when the renter knows its header, else 1 (the worst case for the bound). */
  private long heightOf(Hash target) {
    RecordHeader header = staged.get(target);
    if (header == null) {
      header = knownHeaders.apply(target);
    }
    return header == null ? 1 : header.height();
  }

  /**
   * The proof part of the renter's own output bound. When the renter holds every header on the anchor's
   * primary chain down to the target, it is the exact size the host charges ({@link OutputBounds#proof});
   * otherwise, from heights alone, one header of the largest size per height and a full inclusion path.
   * The host charges at most this, so a host bound above it is misbehaviour.
   */
  private long proofBound(RecordHeader anchor, @Nullable Hash targetOrNull, long targetHeight, boolean subRecord) {
    RecordSource held = h -> {
      if (h.equals(anchor.hash())) {
        return anchor;
      }
      RecordHeader header = staged.get(h);
      return header != null ? header : knownHeaders.apply(h);
    };
    RecordProof path = new ProofGenerator(held).primaryChainProofToHeightOrNull(anchor.hash(), targetHeight);
    if (path != null && (targetOrNull == null || path.target().hash().equals(targetOrNull))) {
      return OutputBounds.proof(path, subRecord);
    }
    return proofBound(anchor, targetHeight, subRecord);
  }

  /** The proof bound from heights alone: one header of the largest size per height and a full inclusion path. */
  static long proofBound(RecordHeader anchor, long targetHeight, boolean subRecord) {
    if (targetHeight < 1 || targetHeight > anchor.height()) {
      return 0;
    }
    return OutputBounds.proofByHeights(anchor.height(), targetHeight, subRecord, OutputBounds.MAX_INCLUSION_BYTES);
  }
}
