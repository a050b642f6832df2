package dev.capsulevm.renter;

import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.OutputBounds;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.integrity.MemberStates;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proto.WireSizes;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Builds a program: instructions whose inputs are (offset, length) ranges of one program data buffer,
 * laid out in instruction order, identical small inputs (hashes, anchors) stored once and shared. Each
 * method returns the
 * instruction's index, which is the index of its output.
 *
 * <p>The builder also works out, per instruction, what the output must say (the capsule id a create
 * yields, the heads an append leaves, the record a read proves) and three bounds on it ({@link Bounds}):
 * the <b>expected</b> bound the estimate uses, exact whenever the builder holds what the output is made
 * of and otherwise a documented allowance; the <b>limit</b>, the most an honest host may charge, which
 * the host's {@code max_output_bytes} is checked against; and the <b>ceiling</b>, what the budget of
 * {@link HostClient#run}'s one retry pays for. It needs for that: the capsule's signed metadata (who may
 * write, the sub-record size limit), the capsule's heads when known, and the headers it already verified
 * (trusted anchors, cached records). Without the metadata it cannot check who signed a head or a
 * record, so {@link #heads()}, {@link #readByHash} and the reads need it; {@link HostClient#metadata}
 * fetches and verifies it from the capsule id alone.
 */
public final class ProgramBuilder {
  /**
   * The allowance for a record header the builder does not hold: one parent and 4 skip pointers (119
   * fixed bytes + 5 × 32), the header of a record at a height below 32 that merges nothing.
   */
  public static final long UNKNOWN_HEADER_BYTES = 119 + 5 * Hash.LENGTH;
  /**
   * The same allowance in a version-2 capsule, whose headers add a member root and an auth-parent count
   * (no auth parent): 153 fixed bytes + 5 × 32.
   */
  public static final long UNKNOWN_HEADER_BYTES_V2 = 153 + 5 * Hash.LENGTH;
  /**
   * The same allowance in a private (version-3) capsule, whose data headers add an epoch key and an HPKE
   * enc (64 bytes) to version 2's.
   */
  public static final long UNKNOWN_HEADER_BYTES_V3 = UNKNOWN_HEADER_BYTES_V2 + 64;
  /**
   * The allowance for the writer's member entry in the proof of a version-2 record whose member state the
   * builder does not know: 19 fixed bytes and a path of 4 hashes (a state of up to 16 members).
   */
  public static final long UNKNOWN_MEMBER_ENTRY_BYTES = 19 + 4 * Hash.LENGTH;
  /** The allowance for signed metadata the builder does not hold (a description and a few writers). */
  public static final long UNKNOWN_METADATA_BYTES = 1024;
  /**
   * How many heads of the largest size the ceiling of a {@code Heads} instruction pays for. An honest host
   * may hold more: the ceiling is a retry budget, not a limit.
   */
  public static final int HEADS_CEILING = 16;

  private static final long ENVELOPE = WireSizes.OUTPUT_ENVELOPE_BYTES;
  private static final Hash NO_CAPSULE = Hash.copyOf(new byte[Hash.LENGTH]);

  private final @Nullable Hash capsuleIdOrNull;
  private final @Nullable SignedMetadata metadataOrNull;
  private final Function<Hash, @Nullable RecordHeader> knownHeaders;
  /** The member state before known version-2 records, for exact proof bounds; none by default. */
  private MemberStates memberStates = MemberStates.NONE;
  /** The capsule's heads as they will be after the appends so far; null when not known. */
  private final @Nullable TreeMap<Hash, RecordHeader> heads;
  private final Map<Hash, RecordHeader> staged = new HashMap<>();
  private final ByteArrayOutputStream data = new ByteArrayOutputStream();
  /** The largest input {@link #data} shares with an identical earlier one. */
  static final int SHARED_INPUT_BYTES = 256;

  private final Map<ByteBuffer, DataRef> shared = new HashMap<>();
  private final List<Step> steps = new ArrayList<>();

  /**
   * @param capsuleIdOrNull the capsule the program runs against; null for a program that only creates
   *     capsules or reads by hash
   * @param metadataOrNull the capsule's signed metadata, needed for heads, reads and writer checks
   * @param headsOrNull the capsule's current heads as the renter knows them, or null when not known: an
   *     append is expected to leave exactly the heads they imply, and the estimate sizes a {@code Heads}
   *     output by them
   * @param knownHeaders verified headers by hash (returns null for unknown ones); null when none are known
   */
  public ProgramBuilder(@Nullable Hash capsuleIdOrNull, @Nullable SignedMetadata metadataOrNull,
      @Nullable List<RecordHeader> headsOrNull, @Nullable Function<Hash, @Nullable RecordHeader> knownHeaders) {
    if (capsuleIdOrNull != null && capsuleIdOrNull.equals(NO_CAPSULE)) {
      // No metadata hashes to it, and a receipt states it as "no capsule": such a program proves nothing.
      throw new IllegalArgumentException("32 zero bytes name no capsule");
    }
    this.capsuleIdOrNull = capsuleIdOrNull;
    this.metadataOrNull = metadataOrNull;
    this.knownHeaders = knownHeaders == null ? h -> null : knownHeaders;
    if (metadataOrNull != null && !metadataOrNull.capsuleId().equals(capsuleIdOrNull)) {
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

  /**
   * Lets the builder size the writer's member entry of a proof exactly: {@code states} answers the member
   * state before a version-2 record (null when unknown, then an allowance applies).
   */
  ProgramBuilder withMemberStates(MemberStates states) {
    this.memberStates = Objects.requireNonNull(states, "states");
    return this;
  }

  /** A builder for a program that names no capsule (creating capsules, reading by hash). */
  public static ProgramBuilder withoutCapsule() {
    return new ProgramBuilder(null, null, null, null);
  }

  /** A builder for a program on capsule {@code capsuleId}, whose verified {@code metadata} the caller holds. */
  public static ProgramBuilder forCapsule(Hash capsuleId, SignedMetadata metadata) {
    return new ProgramBuilder(Objects.requireNonNull(capsuleId, "capsuleId"),
        Objects.requireNonNull(metadata, "metadata"), null, null);
  }

  /**
   * The renter's bounds on one output, each counting the response envelope
   * ({@link WireSizes#OUTPUT_ENVELOPE_BYTES}).
   *
   * @param expected what the estimate charges: exact when the renter holds what the output is made of,
   *     else an allowance
   * @param limitOrMinusOne the most an honest host may charge, known before the output: a larger
   *     {@code max_output_bytes} is misbehaviour; -1 when it depends on what the host holds (heads, an
   *     append's heads) or on the price table (metadata the renter does not hold), see {@link Step#limit}
   * @param ceilingOrMinusOne what the retry budget pays for; -1 for the limit, or the expected bound
   *     when there is no limit either
   */
  record Bounds(long expected, long limitOrMinusOne, long ceilingOrMinusOne) {
    static Bounds exact(long bound) {
      return new Bounds(bound, bound, bound);
    }
  }

  /**
   * An {@code AppendRecord}'s records: the hashes it appends, in order, and how many distinct parents
   * outside the append they name (the most heads of the host's view the append can consume).
   */
  record Appended(List<Hash> records, int externalParents) {
    Appended {
      records = List.copyOf(records);
    }
  }

  /**
   * What the renter expects of one instruction's output. {@code expectedCapsuleId} is set for a
   * {@code CreateCapsule}, {@code anchor} for a read or a proof, {@code lookupHash} for a {@code HasRecord}
   * or a {@code ReadByHash}, {@code appendedOrNull} for an {@code AppendRecord}; each is null for the other
   * instructions. {@code metadataOrNull} is the program's capsule's metadata when the builder holds it.
   */
  @SuppressWarnings("ArrayRecordComponent") // never compared: the builder's expectations, held in a list
  record Step(Instruction instruction, Bounds bounds, long storageBytes,
      @Nullable Hash expectedCapsuleId, @Nullable List<Hash> expectedHeadsOrNull, @Nullable Hash anchor,
      @Nullable Hash targetHashOrNull, long targetHeight, long subRecordIndex, @Nullable Hash lookupHash,
      @Nullable SignedMetadata metadataOrNull, byte @Nullable [] payloadOrNull, @Nullable Appended appendedOrNull) {

    /** The most an honest host may charge before the output is seen; -1 when the renter cannot tell. */
    long limit(Limits limits) {
      if (bounds.limitOrMinusOne() >= 0) {
        return bounds.limitOrMinusOne();
      }
      if (instruction instanceof Instruction.Metadata) {
        // Metadata is a CreateCapsule input, which the table bounds by maxRecordBytes.
        return OutputBounds.metadata(limits.maxRecordBytes()) + ENVELOPE;
      }
      return -1;
    }

    /** The bound the retry budget pays for: never below the expected one. */
    long ceiling(Limits limits) {
      long ceiling = bounds.ceilingOrMinusOne() >= 0 ? bounds.ceilingOrMinusOne() : limit(limits);
      return Math.max(ceiling, bounds.expected());
    }

    InstructionDescriptor estimateDescriptor() {
      return descriptor(bounds.expected());
    }

    InstructionDescriptor ceilingDescriptor(Limits limits) {
      return descriptor(ceiling(limits));
    }

    InstructionDescriptor descriptor(long bound) {
      return new InstructionDescriptor(instruction.kind(), instruction.inputBytes(), bound, storageBytes);
    }
  }

  /**
   * Adds {@code bytes} to the program data, or reuses an identical earlier input of at most
   * {@link #SHARED_INPUT_BYTES} bytes: hashes and anchors recur in a program, records do not, and
   * comparing a large input costs a pass over it.
   */
  public DataRef data(byte[] bytes) {
    ByteBuffer key = bytes.length <= SHARED_INPUT_BYTES ? ByteBuffer.wrap(bytes.clone()) : null;
    DataRef existing = key == null ? null : shared.get(key);
    if (existing != null) {
      return existing;
    }
    DataRef ref = new DataRef(data.size(), bytes.length);
    data.writeBytes(bytes);
    if (key != null) {
      shared.put(key, ref);
    }
    return ref;
  }

  /** {@code CreateCapsule}: stores {@code metadata}; the output must be its capsule id. */
  public int createCapsule(SignedMetadata metadata) {
    DataRef ref = data(metadata.encoded());
    return add(new Step(new Instruction.CreateCapsule(ref), Bounds.exact(OutputBounds.CREATE_CAPSULE + ENVELOPE),
        ref.length(), metadata.capsuleId(), null, null, null, 0, -1, null, metadata, null, null));
  }

  /**
   * {@code AppendRecord}: validates and stages {@code records} (in order; each may follow earlier
   * ones). When the heads are known the output must be exactly the heads they leave, or those plus heads
   * another writer added meanwhile (an append conflict, which the renter refuses to commit and then
   * checks: {@link AppendConflictException}).
   */
  public int append(List<RecordWithBody> records) {
    requireCapsule("append");
    if (records.isEmpty()) {
      throw new IllegalArgumentException("an append holds at least one record");
    }
    DataRef ref = data(AppendEncoding.encode(records));
    Set<Hash> appended = new LinkedHashSet<>();
    Set<Hash> externalParents = new HashSet<>();
    for (RecordWithBody item : records) {
      for (Hash parent : item.record().header().parents()) {
        if (!appended.contains(parent)) {
          externalParents.add(parent);
        }
      }
      appended.add(item.hash());
    }
    List<Hash> expected = null;
    // The host's bound counts the heads of its view before the append, which only it knows: the expected
    // bound takes the heads the renter knows (or one), and the output itself bounds the host's figure.
    long known;
    if (heads != null) {
      known = heads.size();
      for (RecordWithBody item : records) {
        for (Hash parent : item.record().header().parents()) {
          heads.remove(parent);
        }
        heads.put(item.hash(), item.record().header());
      }
      expected = List.copyOf(heads.keySet());
    } else {
      known = 1;
    }
    for (RecordWithBody item : records) {
      staged.put(item.hash(), item.record().header());
    }
    long bound = OutputBounds.append(known, records.size()) + ENVELOPE;
    return add(new Step(new Instruction.AppendRecord(ref), new Bounds(bound, -1, -1), ref.length(), null, expected,
        null, null, 0, -1, null, metadataOrNull, null,
        new Appended(List.copyOf(appended), externalParents.size())));
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
    SignedMetadata metadata = requireMetadata("reading a sub-record (its size limit)");
    DataRef anchorRef = data(anchor.hash().toByteArray());
    Bounds proof = proofBounds(anchor, targetOrNull, targetHeight, true);
    Bounds bounds = readBounds(metadata, anchor, targetHeight, proof);
    return add(new Step(new Instruction.ReadSubRecord(selector, index, anchorRef), bounds, 0, null, null,
        anchor.hash(), targetOrNull, targetHeight, index, null, metadata, null, null));
  }

  /**
   * The bounds of a {@code ReadSubRecord} with {@code proof} the sub-record proof's bounds. A held
   * payload's output is {@link OutputBounds#readSubRecord}, which the expected bound assumes. In a
   * version-2 capsule the payload may have been dropped under the retention policy, whose answer
   * ({@link OutputBounds#readDroppedSubRecord}) carries a witness's proof from the anchor: usually the
   * anchor itself (its header and writer entry), which the retry ceiling allows for; at most, a witness no
   * lower than the target, one header of the largest size per height between it and the anchor, which the
   * limit allows for.
   */
  private static Bounds readBounds(SignedMetadata metadata, RecordHeader anchor, long targetHeight, Bounds proof) {
    long maxPayload = metadata.metadata().maxSubRecordBytes();
    long expected = OutputBounds.readSubRecord(maxPayload, proof.expected());
    long limit = OutputBounds.readSubRecord(maxPayload, proof.limitOrMinusOne());
    if (metadata.metadata().version() == 1) {
      return new Bounds(expected + ENVELOPE, limit + ENVELOPE, -1);
    }
    long byAnchor = 4 + (4 + anchor.encodedLength()) + 4 + OutputBounds.MAX_MEMBER_ENTRY_BYTES;
    long byWitness = Math.max(byAnchor, OutputBounds.proofByHeights(anchor.height(), targetHeight, false, 0));
    long ceiling = Math.max(limit, OutputBounds.readDroppedSubRecord(proof.limitOrMinusOne(), byAnchor));
    limit = Math.max(limit, OutputBounds.readDroppedSubRecord(proof.limitOrMinusOne(), byWitness));
    return new Bounds(expected + ENVELOPE, limit + ENVELOPE, Math.max(ceiling, expected) + ENVELOPE);
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
    Bounds proof = proofBounds(anchor, targetOrNull, targetHeight, index >= 0);
    Bounds bounds = new Bounds(proof.expected() + ENVELOPE, proof.limitOrMinusOne() + ENVELOPE, -1);
    return add(new Step(new Instruction.Prove(anchorRef, selector, index), bounds, 0, null, null,
        anchor.hash(), targetOrNull, targetHeight, index, null, metadataOrNull, payloadOrNull, null));
  }

  /**
   * {@code HasRecord}: whether the host holds {@code record}, in any capsule. The host charges the exact
   * answer; the renter's bounds are exact when it holds the header.
   */
  public int has(Hash record) {
    RecordHeader known = headerOrNull(record);
    Bounds bounds = known != null ? Bounds.exact(OutputBounds.hasRecord(known) + ENVELOPE)
        : new Bounds(1 + 4 + unknownHeaderBytes() + ENVELOPE, OutputBounds.HAS_RECORD + ENVELOPE, -1);
    return add(new Step(new Instruction.HasRecord(data(record.toByteArray())), bounds, 0, null, null, null,
        null, 0, -1, record, metadataOrNull, null, null));
  }

  /**
   * {@code ReadByHash}: the record {@code record} (header and signature), from any capsule. A signature
   * always verifies under the header's writer; in a program on a capsule (which then needs the
   * capsule's metadata) a record of that capsule must also be by one of its writers. A program that
   * names no capsule cannot say who may write a record: name the record's capsule to have that checked.
   */
  public int readByHash(Hash record) {
    if (capsuleIdOrNull != null) {
      requireMetadata("reading a record by hash in a program on a capsule (who may sign it)");
    }
    RecordHeader known = headerOrNull(record);
    // Exact but for the signature, counted whenever the renter holds only the header.
    Bounds bounds = known != null
        ? Bounds.exact(1 + 4 + known.encodedLength() + 1 + 64 + 8 + ENVELOPE)
        : new Bounds(1 + 4 + unknownHeaderBytes() + 1 + 64 + 8 + ENVELOPE, OutputBounds.READ_BY_HASH + ENVELOPE, -1);
    return add(new Step(new Instruction.ReadByHash(data(record.toByteArray())), bounds, 0, null, null, null,
        null, 0, -1, record, metadataOrNull, null, null));
  }

  /**
   * {@code Heads}: the capsule's current heads, each checked to be signed by a writer of the capsule,
   * which needs its metadata: a head is never accepted without that check.
   *
   * @throws IllegalStateException when the builder does not hold the capsule's metadata
   */
  public int heads() {
    requireCapsule("heads");
    SignedMetadata metadata = requireMetadata("checking that each head is signed by a writer");
    long expected = 4;
    if (heads != null && !heads.isEmpty()) {
      for (RecordHeader head : heads.values()) {
        // A version-2 head without auth parents is followed, once members change, by heads with one: room
        // for it keeps the first Heads after a change from stopping for its budget (and a retry). Likewise
        // a private capsule's membership head is followed by data heads, 64 bytes longer (epoch key, enc).
        expected += OutputBounds.head(head) + (hasMembers() && head.authParents().isEmpty() ? Hash.LENGTH : 0)
            + (head.version() == RecordHeader.VERSION_3 && head.kind() == RecordKind.MEMBERSHIP ? 64 : 0);
      }
    } else {
      expected += unknownHeaderBytes() + OutputBounds.RECORD_OVERHEAD;
    }
    long ceiling = 4 + HEADS_CEILING * (OutputBounds.MAX_HEADER_BYTES + OutputBounds.RECORD_OVERHEAD) + ENVELOPE;
    return add(new Step(new Instruction.Heads(), new Bounds(expected + ENVELOPE, -1, ceiling), 0, null, null, null,
        null, 0, -1, null, metadata, null, null));
  }

  /**
   * {@code Metadata}: the capsule's signed metadata, which must hash to the capsule id (and carry its
   * creator's signature). The host charges its exact size; the renter's expected bound is exact when it
   * holds the metadata, else {@link #UNKNOWN_METADATA_BYTES}, and its limit is then the price table's
   * {@code maxRecordBytes}.
   */
  public int metadata() {
    requireCapsule("metadata");
    Bounds bounds = metadataOrNull != null
        ? Bounds.exact(OutputBounds.metadata(metadataOrNull.encoded().length) + ENVELOPE)
        : new Bounds(OutputBounds.metadata(UNKNOWN_METADATA_BYTES) + ENVELOPE, -1, -1);
    return add(new Step(new Instruction.Metadata(), bounds, 0, null, null, null, null, 0, -1, null, metadataOrNull,
        null, null));
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

  private SignedMetadata requireMetadata(String what) {
    if (metadataOrNull == null) {
      throw new IllegalStateException(what + " needs the capsule's metadata (HostClient.metadata fetches it)");
    }
    return metadataOrNull;
  }

  /** A header the builder holds: staged by this program, or verified earlier; null when unknown. */
  private @Nullable RecordHeader headerOrNull(Hash hash) {
    RecordHeader header = staged.get(hash);
    return header != null ? header : knownHeaders.apply(hash);
  }

  /** Whether the program's capsule has members, version 2 or 3 (known from its metadata; a capsule made now has). */
  private boolean hasMembers() {
    return metadataOrNull != null && metadataOrNull.metadata().hasMembers();
  }

  /**
   * {@link #UNKNOWN_HEADER_BYTES}, {@link #UNKNOWN_HEADER_BYTES_V2} in a version-2 capsule, or
   * {@link #UNKNOWN_HEADER_BYTES_V3} in a private one.
   */
  private long unknownHeaderBytes() {
    if (metadataOrNull != null && metadataOrNull.metadata().isPrivate()) {
      return UNKNOWN_HEADER_BYTES_V3;
    }
    return hasMembers() ? UNKNOWN_HEADER_BYTES_V2 : UNKNOWN_HEADER_BYTES;
  }

  /** The target's height when the renter knows its header, else 1 (the worst case for the bound). */
  private long heightOf(Hash target) {
    RecordHeader header = headerOrNull(target);
    return header == null ? 1 : header.height();
  }

  /**
   * The proof part of the bounds (no envelope). When the renter holds every header on the anchor's
   * primary chain down to the target, all three are the exact size the host charges
   * ({@link OutputBounds#proof}). Otherwise the limit is from heights alone, one header of the largest
   * size per height and a full inclusion path, and the expected bound allows
   * {@code min(2·ceil(log2(anchor height)) + 1, heights spanned)} headers of
   * {@link #UNKNOWN_HEADER_BYTES} (a skip-pointer path) and, for a sub-record, the inclusion path of the
   * largest tree the metadata allows.
   */
  private Bounds proofBounds(RecordHeader anchor, @Nullable Hash targetOrNull, long targetHeight, boolean subRecord) {
    RecordSource held = h -> h.equals(anchor.hash()) ? anchor : headerOrNull(h);
    RecordProof path;
    try {
      path = new ProofGenerator(held, memberStates).primaryChainProofToHeightOrNull(anchor.hash(), targetHeight);
    } catch (IllegalStateException e) {
      // A version-2 target whose member state the builder does not know: OutputBounds counts the entry's bound.
      path = new ProofGenerator(held).primaryChainProofToHeightOrNull(anchor.hash(), targetHeight);
    }
    if (path != null && (targetOrNull == null || path.target().hash().equals(targetOrNull))) {
      return Bounds.exact(OutputBounds.proof(path, subRecord));
    }
    long limit = proofBound(anchor, targetHeight, subRecord);
    if (targetHeight < 1 || targetHeight > anchor.height()) {
      return Bounds.exact(limit); // the host cannot place it either: 0, and the instruction fails
    }
    long span = anchor.height() - targetHeight + 1;
    long log2 = 64L - Long.numberOfLeadingZeros(anchor.height() - 1);
    long headers = Math.min(span, 2 * log2 + 1);
    long inclusion = !subRecord ? 0
        : metadataOrNull != null ? OutputBounds.inclusion(metadataOrNull.metadata().maxSubRecords())
        : OutputBounds.MAX_INCLUSION_BYTES;
    long entry = 4 + (hasMembers() ? UNKNOWN_MEMBER_ENTRY_BYTES : 0);
    long expected = Math.min(limit, 4 + headers * (4 + unknownHeaderBytes()) + entry + inclusion);
    return new Bounds(expected, limit, -1);
  }

  /** The proof bound from heights alone: one header of the largest size per height and a full inclusion path. */
  static long proofBound(RecordHeader anchor, long targetHeight, boolean subRecord) {
    if (targetHeight < 1 || targetHeight > anchor.height()) {
      return 0;
    }
    return OutputBounds.proofByHeights(anchor.height(), targetHeight, subRecord, OutputBounds.MAX_INCLUSION_BYTES);
  }
}
