package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A record's header: everything its hash covers. The record hash is {@code SHA-256(0x11 || header)},
 * and the header holds the root of the record's sub-records, so a signature over the hash binds the
 * body too. Immutable; the layout is in docs/FORMAT.md.
 *
 * <p>Version 1 (capsules of version-1 metadata) and version 2 (version-2 metadata) differ in three
 * fields version 2 adds after the writer and around the sub-records: the record's {@link RecordKind},
 * the member root of the state before the record, and its auth parents (the latest membership records
 * below it). Version 3 (private capsules) is version 2 where a data record also carries, after the member
 * root, the epoch key its payloads are encrypted under and the HPKE {@code enc} of its data key. A
 * header's version must equal its capsule's metadata version, which {@link RecordValidator} checks.
 *
 * <p>Structure is checked here (counts, order, lengths); whether the pointers point where the rules say
 * needs the capsule's other records and is checked by {@link RecordValidator}.
 */
public final class RecordHeader {
  /** Version 1: no kind, member root or auth parents; what {@link #create} writes. */
  public static final int VERSION = 1;
  /** Version 2: kind, member root and auth parents; what {@link #createV2} writes. */
  public static final int VERSION_2 = 2;
  /** Version 3: version 2, and a data record's epoch key and enc; what {@link #createV3} writes. */
  public static final int VERSION_3 = 3;
  /** Most parents a record can name. */
  public static final int MAX_PARENTS = 255;
  /** Most auth parents a version-2 record can name. */
  public static final int MAX_AUTH_PARENTS = 255;

  private final int version;
  private final RecordKind kind;
  private final @Nullable Hash memberRoot;
  private final @Nullable EpochKey epochKey;
  private final byte @Nullable [] enc;
  private final List<Hash> authParents;
  private final Hash capsuleId;
  private final long height;
  private final long timestampMillis;
  private final PublicKey writer;
  private final long subRecordCount;
  private final Hash subRecordRoot;
  private final List<Hash> parents;
  private final List<Hash> skipPointers;
  private final byte[] encoded;
  private final Hash hash;

  private RecordHeader(
      int version,
      Hash capsuleId,
      long height,
      long timestampMillis,
      PublicKey writer,
      RecordKind kind,
      long subRecordCount,
      Hash subRecordRoot,
      @Nullable Hash memberRoot,
      @Nullable EpochKey epochKey,
      byte @Nullable [] enc,
      List<Hash> authParents,
      List<Hash> parents,
      List<Hash> skipPointers,
      byte @Nullable [] encoded) {
    this.version = version;
    this.kind = kind;
    this.memberRoot = memberRoot;
    this.epochKey = epochKey;
    this.enc = enc;
    this.authParents = authParents;
    this.capsuleId = capsuleId;
    this.height = height;
    this.timestampMillis = timestampMillis;
    this.writer = writer;
    this.subRecordCount = subRecordCount;
    this.subRecordRoot = subRecordRoot;
    this.parents = parents;
    this.skipPointers = skipPointers;
    this.encoded = encoded == null ? encode() : encoded;
    this.hash = Sha256.hash(Domain.RECORD, this.encoded);
  }

  /**
   * A version-1 header with these fields.
   *
   * @param parents the primary parent (height - 1) first, then any others in ascending order
   * @param skipPointers as {@link SkipPointers} prescribes for {@code height}
   * @throws IllegalArgumentException naming the field that breaks the header's structure
   */
  public static RecordHeader create(
      Hash capsuleId,
      long height,
      long timestampMillis,
      PublicKey writer,
      long subRecordCount,
      Hash subRecordRoot,
      List<Hash> parents,
      List<Hash> skipPointers) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(writer, "writer");
    Objects.requireNonNull(subRecordRoot, "subRecordRoot");
    List<Hash> parentList = List.copyOf(parents);
    List<Hash> skipList = List.copyOf(skipPointers);
    Problem problem = structureProblem(height, timestampMillis, subRecordCount, List.of(), parentList, skipList);
    if (problem != null) {
      throw new IllegalArgumentException(problem.message());
    }
    return new RecordHeader(VERSION, capsuleId, height, timestampMillis, writer, RecordKind.DATA,
        subRecordCount, subRecordRoot, null, null, null, List.of(), parentList, skipList, null);
  }

  /**
   * A version-2 header with these fields. {@link Record#buildV2} computes the member root and the auth
   * parents; this only lays them out.
   *
   * @param memberRoot the root of the member state before this record
   * @param authParents the latest membership records below this one, strictly ascending, at most 255
   * @param parents the primary parent (height - 1) first, then any others in ascending order
   * @param skipPointers as {@link SkipPointers} prescribes for {@code height}
   * @throws IllegalArgumentException naming the field that breaks the header's structure
   */
  public static RecordHeader createV2(
      Hash capsuleId,
      long height,
      long timestampMillis,
      PublicKey writer,
      RecordKind kind,
      long subRecordCount,
      Hash subRecordRoot,
      Hash memberRoot,
      List<Hash> authParents,
      List<Hash> parents,
      List<Hash> skipPointers) {
    return withMembers(VERSION_2, capsuleId, height, timestampMillis, writer, kind, subRecordCount, subRecordRoot,
        memberRoot, null, null, authParents, parents, skipPointers);
  }

  /**
   * A version-3 header (a private capsule's): {@link #createV2}'s fields, and for a data record the
   * epoch key its payloads are encrypted under and the HPKE encapsulated key of its data key.
   *
   * @param epochKeyOrNull the epoch a data record is written under; null for a membership record
   * @param encOrNull the 32-byte HPKE {@code enc} of a data record; null for a membership record
   * @throws IllegalArgumentException naming the field that breaks the header's structure, or when the
   *     epoch key and enc are given for a membership record or missing for a data record
   */
  public static RecordHeader createV3(
      Hash capsuleId,
      long height,
      long timestampMillis,
      PublicKey writer,
      RecordKind kind,
      long subRecordCount,
      Hash subRecordRoot,
      Hash memberRoot,
      @Nullable EpochKey epochKeyOrNull,
      byte @Nullable [] encOrNull,
      List<Hash> authParents,
      List<Hash> parents,
      List<Hash> skipPointers) {
    boolean data = Objects.requireNonNull(kind, "kind") == RecordKind.DATA;
    if (data != (epochKeyOrNull != null) || data != (encOrNull != null)) {
      throw new IllegalArgumentException(data
          ? "a data record of a private capsule carries its epoch key and enc"
          : "a membership record carries no epoch key or enc");
    }
    if (encOrNull != null && encOrNull.length != Keystore.ENC_LENGTH) {
      throw new IllegalArgumentException("enc is " + Keystore.ENC_LENGTH + " bytes, got " + encOrNull.length);
    }
    return withMembers(VERSION_3, capsuleId, height, timestampMillis, writer, kind, subRecordCount, subRecordRoot,
        memberRoot, epochKeyOrNull, encOrNull == null ? null : encOrNull.clone(), authParents, parents, skipPointers);
  }

  /** A header of a capsule with members (version 2 or 3): checks what both versions share and lays it out. */
  private static RecordHeader withMembers(int version, Hash capsuleId, long height, long timestampMillis,
      PublicKey writer, RecordKind kind, long subRecordCount, Hash subRecordRoot, Hash memberRoot,
      @Nullable EpochKey epochKeyOrNull, byte @Nullable [] encOrNull, List<Hash> authParents, List<Hash> parents,
      List<Hash> skipPointers) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(writer, "writer");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(subRecordRoot, "subRecordRoot");
    Objects.requireNonNull(memberRoot, "memberRoot");
    List<Hash> authList = List.copyOf(authParents);
    List<Hash> parentList = List.copyOf(parents);
    List<Hash> skipList = List.copyOf(skipPointers);
    Problem problem = structureProblem(height, timestampMillis, subRecordCount, authList, parentList, skipList);
    if (problem != null) {
      throw new IllegalArgumentException(problem.message());
    }
    return new RecordHeader(version, capsuleId, height, timestampMillis, writer, kind,
        subRecordCount, subRecordRoot, memberRoot, epochKeyOrNull, encOrNull, authList, parentList, skipList, null);
  }

  /**
   * Parses canonical header bytes.
   *
   * @throws VerificationException MALFORMED_ENCODING naming the field
   */
  public static RecordHeader parse(byte[] encoded) throws VerificationException {
    Objects.requireNonNull(encoded, "encoded");
    CanonicalReader in = new CanonicalReader(encoded, "record header");
    int version = in.u8("version");
    if (version != VERSION && version != VERSION_2 && version != VERSION_3) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, "unknown record header version " + version);
    }
    boolean members = version >= VERSION_2;
    Hash capsuleId = in.hash("capsule id");
    long height = in.u64("height");
    long timestamp = in.u64("timestamp");
    PublicKey writer = in.publicKey("writer");
    RecordKind kind = RecordKind.DATA;
    if (members) {
      int kindCode = in.u8("kind");
      RecordKind known = RecordKind.fromCode(kindCode);
      if (known == null) {
        throw new VerificationException(Failure.MALFORMED_ENCODING, "unknown record kind " + kindCode);
      }
      kind = known;
    }
    long subRecordCount = in.u32("sub-record count");
    Hash subRecordRoot = in.hash("sub-record root");
    Hash memberRoot = null;
    EpochKey epochKey = null;
    byte[] enc = null;
    List<Hash> authParents = new ArrayList<>();
    if (members) {
      memberRoot = in.hash("member root");
      if (version == VERSION_3 && kind == RecordKind.DATA) {
        epochKey = EpochKey.copyOf(in.bytes(EpochKey.LENGTH, "epoch key"));
        enc = in.bytes(Keystore.ENC_LENGTH, "enc");
      }
      int authCount = in.u8("auth parent count");
      for (int i = 0; i < authCount; i++) {
        authParents.add(in.hash("auth parent " + i));
      }
    }
    int parentCount = in.u8("parent count");
    List<Hash> parents = new ArrayList<>(parentCount);
    for (int i = 0; i < parentCount; i++) {
      parents.add(in.hash("parent " + i));
    }
    int skipCount = in.u8("skip pointer count");
    List<Hash> skips = new ArrayList<>(skipCount);
    for (int i = 0; i < skipCount; i++) {
      skips.add(in.hash("skip pointer " + i));
    }
    in.end();
    Problem problem = structureProblem(height, timestamp, subRecordCount, authParents, parents, skips);
    if (problem != null) {
      throw new VerificationException(problem.failure(), problem.message());
    }
    return new RecordHeader(
        version,
        capsuleId,
        height,
        timestamp,
        writer,
        kind,
        subRecordCount,
        subRecordRoot,
        memberRoot,
        epochKey,
        enc,
        List.copyOf(authParents),
        List.copyOf(parents),
        List.copyOf(skips),
        encoded.clone());
  }

  /** A broken structural rule: which one, and what was found. */
  private record Problem(Failure failure, String message) {}

  private static @Nullable Problem structureProblem(
      long height, long timestamp, long subRecordCount, List<Hash> authParents, List<Hash> parents,
      List<Hash> skips) {
    if (height < 1) {
      return new Problem(Failure.BAD_HEIGHT, "height must be at least 1, got " + height);
    }
    if (timestamp < 0) {
      return new Problem(Failure.MALFORMED_ENCODING, "timestamp is negative: " + timestamp);
    }
    if (subRecordCount < 0 || subRecordCount > 0xffffffffL) {
      return new Problem(Failure.MALFORMED_ENCODING, "sub-record count out of range: " + subRecordCount);
    }
    if (authParents.size() > MAX_AUTH_PARENTS) {
      return new Problem(
          Failure.BAD_PARENTS, "a record names at most " + MAX_AUTH_PARENTS + " auth parents, got " + authParents.size());
    }
    for (int i = 1; i < authParents.size(); i++) {
      if (authParents.get(i - 1).compareTo(authParents.get(i)) >= 0) {
        return new Problem(
            Failure.BAD_AUTH_PARENTS, "auth parents must be distinct and ascending; auth parent " + i + " is not");
      }
    }
    if (parents.isEmpty() || parents.size() > MAX_PARENTS) {
      return new Problem(
          Failure.BAD_PARENTS, "a record names 1 to " + MAX_PARENTS + " parents, got " + parents.size());
    }
    for (int i = 2; i < parents.size(); i++) {
      if (parents.get(i - 1).compareTo(parents.get(i)) >= 0) {
        return new Problem(
            Failure.BAD_PARENTS, "parents after the first must be distinct and ascending; parent " + i + " is not");
      }
    }
    for (int i = 1; i < parents.size(); i++) {
      if (parents.get(i).equals(parents.get(0))) {
        return new Problem(Failure.BAD_PARENTS, "parent " + i + " repeats the primary parent");
      }
    }
    int expectedSkips = SkipPointers.count(height);
    if (skips.size() != expectedSkips) {
      return new Problem(
          Failure.BAD_SKIP_POINTER,
          "a record at height " + height + " carries " + expectedSkips + " skip pointers, got " + skips.size());
    }
    return null;
  }

  private byte[] encode() {
    int v2Fields = memberRoot == null ? 0 : 1 + 32 + 1 + 32 * authParents.size();
    int v3Fields = epochKey == null ? 0 : EpochKey.LENGTH + Keystore.ENC_LENGTH;
    ByteBuffer out = ByteBuffer.allocate(
        1 + 32 + 8 + 8 + 32 + 4 + 32 + v2Fields + v3Fields + 1 + 32 * parents.size() + 1 + 32 * skipPointers.size());
    out.put((byte) version);
    out.put(capsuleId.toByteArray());
    out.putLong(height);
    out.putLong(timestampMillis);
    out.put(writer.toByteArray());
    if (memberRoot != null) {
      out.put((byte) kind.code());
    }
    out.putInt((int) subRecordCount);
    out.put(subRecordRoot.toByteArray());
    if (memberRoot != null) {
      out.put(memberRoot.toByteArray());
      if (epochKey != null && enc != null) {
        out.put(epochKey.toByteArray()).put(enc);
      }
      out.put((byte) authParents.size());
      authParents.forEach(a -> out.put(a.toByteArray()));
    }
    out.put((byte) parents.size());
    parents.forEach(p -> out.put(p.toByteArray()));
    out.put((byte) skipPointers.size());
    skipPointers.forEach(s -> out.put(s.toByteArray()));
    return out.array();
  }

  /** The record hash: {@code SHA-256(0x11 || encoded())}. */
  public Hash hash() {
    return hash;
  }

  /** The canonical bytes (a copy). */
  public byte[] encoded() {
    return encoded.clone();
  }

  /** The canonical length in bytes. */
  public int encodedLength() {
    return encoded.length;
  }

  /** {@link #VERSION} (1), {@link #VERSION_2} or {@link #VERSION_3}: the version of the capsule's metadata. */
  public int version() {
    return version;
  }

  /** The epoch a version-3 data record's payloads are encrypted under; null for every other record. */
  public @Nullable EpochKey epochKeyOrNull() {
    return epochKey;
  }

  /**
   * The HPKE encapsulated key (32 bytes, a copy) of a version-3 data record's data key; null for every
   * other record.
   */
  public byte @Nullable [] encOrNull() {
    return enc == null ? null : enc.clone();
  }

  /** What the record holds; {@link RecordKind#DATA} for every version-1 record. */
  public RecordKind kind() {
    return kind;
  }

  /** The root of the member state before this record; null for version 1 (versions 2 and 3 carry it). */
  public @Nullable Hash memberRootOrNull() {
    return memberRoot;
  }

  /**
   * The latest membership records below this one (none of them below another), strictly ascending;
   * empty for version 1 and for a record with no membership record below it.
   */
  public List<Hash> authParents() {
    return authParents;
  }

  public Hash capsuleId() {
    return capsuleId;
  }

  /** 1 + the greatest height of the parents; the metadata is height 0. */
  public long height() {
    return height;
  }

  /** Milliseconds since the Unix epoch, as the writer stated it. */
  public long timestampMillis() {
    return timestampMillis;
  }

  public PublicKey writer() {
    return writer;
  }

  public long subRecordCount() {
    return subRecordCount;
  }

  /** The RFC 9162 root over the sub-record payloads. */
  public Hash subRecordRoot() {
    return subRecordRoot;
  }

  /** The parents: the primary parent (height - 1) first. */
  public List<Hash> parents() {
    return parents;
  }

  /** The primary parent: the capsule id for a record at height 1. */
  public Hash primaryParent() {
    return parents.get(0);
  }

  /** Skip pointer i points to the primary-chain ancestor at {@code SkipPointers.targetHeight(h, i)}. */
  public List<Hash> skipPointers() {
    return skipPointers;
  }

  /**
   * How this header points to {@code child}: -1 for the primary parent, -2 for another parent, the
   * skip index (0 or more) for a skip pointer, or {@link Integer#MIN_VALUE} when it does not.
   */
  public int pointerTo(Hash child) {
    if (parents.get(0).equals(child)) {
      return -1;
    }
    for (int i = 1; i < parents.size(); i++) {
      if (parents.get(i).equals(child)) {
        return -2;
      }
    }
    for (int i = 0; i < skipPointers.size(); i++) {
      if (skipPointers.get(i).equals(child)) {
        return i;
      }
    }
    return Integer.MIN_VALUE;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof RecordHeader other && hash.equals(other.hash) && Arrays.equals(encoded, other.encoded);
  }

  @Override
  public int hashCode() {
    return hash.hashCode();
  }

  @Override
  public String toString() {
    return "RecordHeader[" + hash + " v" + version + " height=" + height
        + (kind == RecordKind.MEMBERSHIP ? " membership]" : "]");
  }
}
