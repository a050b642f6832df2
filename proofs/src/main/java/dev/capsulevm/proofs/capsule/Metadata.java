package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.Rights;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The unsigned body of a capsule's metadata: who created it, who may write, how records are signed and
 * the limits every record obeys, and for a private capsule (version 3) the genesis keystore block.
 * Immutable; its canonical bytes are laid out in docs/FORMAT.md.
 */
public final class Metadata {
  /** Version 1: writers fixed by the metadata, what {@link #create} writes. */
  public static final int VERSION = 1;
  /** Version 2: writers are the genesis members, changed by membership records; {@link #createV2}. */
  public static final int VERSION_2 = 2;
  /**
   * Version 3: a private capsule, version 2 with the genesis keystore block after the description;
   * {@link #createV3}.
   */
  public static final int VERSION_3 = 3;
  /** Longest description, in UTF-8 bytes. */
  public static final int MAX_DESCRIPTION_BYTES = 0xffff;
  /** Most writers the metadata can list. */
  public static final int MAX_WRITERS = 0xffff;

  private final int version;
  private final PublicKey creator;
  private final long createdAtMillis;
  private final SigningPolicy signingPolicy;
  private final long maxSubRecords;
  private final long maxSubRecordBytes;
  private final SortedMap<PublicKey, Integer> writers;
  private final String description;
  private final @Nullable Keystore genesisKeystore;
  private final byte[] encoded;

  private Metadata(
      int version,
      PublicKey creator,
      long createdAtMillis,
      SigningPolicy signingPolicy,
      long maxSubRecords,
      long maxSubRecordBytes,
      SortedMap<PublicKey, Integer> writers,
      String description,
      @Nullable Keystore genesisKeystore) {
    this.version = version;
    this.creator = creator;
    this.createdAtMillis = createdAtMillis;
    this.signingPolicy = signingPolicy;
    this.maxSubRecords = maxSubRecords;
    this.maxSubRecordBytes = maxSubRecordBytes;
    this.writers = Collections.unmodifiableSortedMap(writers);
    this.description = description;
    this.genesisKeystore = genesisKeystore;
    this.encoded = encode();
  }

  /**
   * Version-1 metadata with these fields: the writers are fixed for the capsule's life.
   *
   * @param writers each writer's key and its {@link Permissions} bits; appending needs {@link
   *     Permissions#ADD}
   * @param maxSubRecords the most sub-records one record may hold, 1 to 2^32 - 1
   * @param maxSubRecordBytes the largest sub-record payload in bytes, 0 to 2^32 - 1
   * @throws IllegalArgumentException naming the field that is out of range
   */
  public static Metadata create(
      PublicKey creator,
      long createdAtMillis,
      SigningPolicy signingPolicy,
      long maxSubRecords,
      long maxSubRecordBytes,
      Map<PublicKey, Integer> writers,
      String description) {
    return create(
        VERSION, creator, createdAtMillis, signingPolicy, maxSubRecords, maxSubRecordBytes, writers, description,
        null);
  }

  /**
   * Version-2 metadata: {@code writers} are the genesis members besides the creator, who is a member
   * by definition (read, add, admin and superadmin) and must not be listed. Membership records change
   * the members afterwards (docs/FORMAT.md, "Members").
   *
   * @param writers each genesis member's key and its {@link Permissions} bits: non-zero, without
   *     {@link Permissions#SUPERADMIN} (only the creator holds it at genesis)
   * @throws IllegalArgumentException naming the field that is out of range or the writer that breaks a
   *     version-2 rule
   */
  public static Metadata createV2(
      PublicKey creator,
      long createdAtMillis,
      SigningPolicy signingPolicy,
      long maxSubRecords,
      long maxSubRecordBytes,
      Map<PublicKey, Integer> writers,
      String description) {
    return create(
        VERSION_2, creator, createdAtMillis, signingPolicy, maxSubRecords, maxSubRecordBytes, writers, description,
        null);
  }

  /**
   * Version-3 metadata, a private capsule: version 2's fields and rules, and the genesis keystore block,
   * which starts the first epoch (docs/FORMAT.md, "Metadata", "Keystore block").
   *
   * @param genesisKeystore a rotate block without previous epochs whose entries are exactly the readers
   *     (bit read) of the genesis state, the creator included, each with a card signature that verifies
   * @throws IllegalArgumentException naming the field or writer that breaks a rule, or what is wrong
   *     with the keystore block
   */
  public static Metadata createV3(
      PublicKey creator,
      long createdAtMillis,
      SigningPolicy signingPolicy,
      long maxSubRecords,
      long maxSubRecordBytes,
      Map<PublicKey, Integer> writers,
      String description,
      Keystore genesisKeystore) {
    Objects.requireNonNull(genesisKeystore, "genesisKeystore");
    return create(
        VERSION_3, creator, createdAtMillis, signingPolicy, maxSubRecords, maxSubRecordBytes, writers, description,
        genesisKeystore);
  }

  private static Metadata create(
      int version,
      PublicKey creator,
      long createdAtMillis,
      SigningPolicy signingPolicy,
      long maxSubRecords,
      long maxSubRecordBytes,
      Map<PublicKey, Integer> writers,
      String description,
      @Nullable Keystore genesisKeystore) {
    Objects.requireNonNull(creator, "creator");
    Objects.requireNonNull(signingPolicy, "signingPolicy");
    Objects.requireNonNull(writers, "writers");
    Objects.requireNonNull(description, "description");
    if (createdAtMillis < 0) {
      throw new IllegalArgumentException("createdAtMillis is negative: " + createdAtMillis);
    }
    if (maxSubRecords < 1 || maxSubRecords > 0xffffffffL) {
      throw new IllegalArgumentException("maxSubRecords must be 1 to 2^32 - 1, got " + maxSubRecords);
    }
    if (maxSubRecordBytes < 0 || maxSubRecordBytes > 0xffffffffL) {
      throw new IllegalArgumentException(
          "maxSubRecordBytes must be 0 to 2^32 - 1, got " + maxSubRecordBytes);
    }
    if (writers.size() > MAX_WRITERS) {
      throw new IllegalArgumentException("at most " + MAX_WRITERS + " writers, got " + writers.size());
    }
    TreeMap<PublicKey, Integer> sorted = new TreeMap<>();
    for (Map.Entry<PublicKey, Integer> writer : writers.entrySet()) {
      PublicKey key = Objects.requireNonNull(writer.getKey(), "writer");
      int bits = Objects.requireNonNull(writer.getValue(), "permissions");
      if ((bits & ~Permissions.ALL) != 0) {
        throw new IllegalArgumentException(
            "unknown permission bits " + Integer.toBinaryString(bits) + " for " + key);
      }
      String problem = version >= VERSION_2 ? v2WriterProblem(creator, key, bits) : null;
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
      sorted.put(key, bits);
    }
    if (description.getBytes(StandardCharsets.UTF_8).length > MAX_DESCRIPTION_BYTES) {
      throw new IllegalArgumentException("description longer than " + MAX_DESCRIPTION_BYTES + " bytes");
    }
    if (genesisKeystore != null) {
      Problem problem = genesisKeystoreProblem(creator, sorted, genesisKeystore);
      if (problem != null) {
        throw new IllegalArgumentException(problem.message());
      }
    }
    return new Metadata(
        version, creator, createdAtMillis, signingPolicy, maxSubRecords, maxSubRecordBytes, sorted, description,
        genesisKeystore);
  }

  /** A broken rule of the genesis keystore block: which failure, and what was found. */
  private record Problem(Failure failure, String message) {}

  /**
   * What breaks the genesis keystore block's rules, or null: a rotate block without previous epochs
   * (MALFORMED_ENCODING), whose entries are exactly the genesis readers and whose cards verify
   * (BAD_KEYSTORE).
   */
  private static @Nullable Problem genesisKeystoreProblem(
      PublicKey creator, SortedMap<PublicKey, Integer> writers, Keystore keystore) {
    if (keystore.type() != Keystore.Type.ROTATE) {
      return new Problem(Failure.MALFORMED_ENCODING, "the genesis keystore block is a rotate block, got a forward block");
    }
    if (!keystore.previous().isEmpty()) {
      return new Problem(Failure.MALFORMED_ENCODING,
          "the genesis keystore block links no previous epoch, got " + keystore.previous().size());
    }
    SortedSet<PublicKey> readers = new TreeSet<>();
    readers.add(creator);
    writers.forEach((key, bits) -> {
      if ((bits & Rights.READ) != 0) {
        readers.add(key);
      }
    });
    SortedSet<PublicKey> wrapped = keystore.members();
    if (!wrapped.equals(readers)) {
      TreeSet<PublicKey> missing = new TreeSet<>(readers);
      missing.removeAll(wrapped);
      TreeSet<PublicKey> extra = new TreeSet<>(wrapped);
      extra.removeAll(readers);
      return new Problem(Failure.BAD_KEYSTORE,
          "the genesis keystore block must wrap the first epoch for exactly the genesis readers (the creator and"
              + " every writer with read)"
              + (missing.isEmpty() ? "" : "; it has no entry for reader " + missing.first().toHex())
              + (extra.isEmpty() ? "" : "; it wraps for " + extra.first().toHex() + ", who is not a genesis reader"));
    }
    for (Keystore.Entry entry : keystore.entries()) {
      if (!entry.cardVerifies()) {
        return new Problem(Failure.BAD_KEYSTORE, "the genesis keystore entry for " + entry.member().toHex()
            + " has a card signature that does not verify (its x25519 key is not bound to that member)");
      }
    }
    return null;
  }

  /** What a version-2 writer entry breaks, or null. */
  private static @Nullable String v2WriterProblem(PublicKey creator, PublicKey writer, int bits) {
    if (writer.equals(creator)) {
      return "the creator is a member by definition and is not listed as a writer";
    }
    if (bits == 0) {
      return "writer " + writer + " has no permission bits (a version-2 writer is a member, whose bits are non-zero)";
    }
    if (Permissions.has(bits, Permissions.SUPERADMIN)) {
      return "writer " + writer + " holds superadmin, which only the creator holds at genesis";
    }
    return null;
  }

  /** Parses canonical metadata bytes, rejecting every non-canonical form. */
  static Metadata decode(CanonicalReader in) throws VerificationException {
    int version = in.u8("version");
    if (version != VERSION && version != VERSION_2 && version != VERSION_3) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, "unknown metadata version " + version);
    }
    PublicKey creator = in.publicKey("creator");
    long createdAt = in.u64("creation time");
    if (createdAt < 0) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, "creation time is negative");
    }
    int policyCode = in.u8("signing policy");
    SigningPolicy policy = SigningPolicy.fromCode(policyCode);
    if (policy == null) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, "unknown signing policy " + policyCode);
    }
    long maxSubRecords = in.u32("max sub-records");
    if (maxSubRecords == 0) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, "max sub-records is 0");
    }
    long maxSubRecordBytes = in.u32("max sub-record bytes");
    int writerCount = in.u16("writer count");
    TreeMap<PublicKey, Integer> writers = new TreeMap<>();
    PublicKey previous = null;
    for (int i = 0; i < writerCount; i++) {
      PublicKey key = in.publicKey("writer " + i);
      int bits = in.u8("permissions of writer " + i);
      if (previous != null && previous.compareTo(key) >= 0) {
        throw new VerificationException(
            Failure.MALFORMED_ENCODING, "writer " + i + " is not in ascending order or repeats");
      }
      if ((bits & ~Permissions.ALL) != 0) {
        throw new VerificationException(
            Failure.MALFORMED_ENCODING, "writer " + i + " has unknown permission bits " + bits);
      }
      String problem = version >= VERSION_2 ? v2WriterProblem(creator, key, bits) : null;
      if (problem != null) {
        throw new VerificationException(Failure.MALFORMED_ENCODING, "writer " + i + ": " + problem);
      }
      writers.put(key, bits);
      previous = key;
    }
    int descriptionLength = in.u16("description length");
    byte[] descriptionBytes = in.bytes(descriptionLength, "description");
    String description;
    try {
      description =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(descriptionBytes))
              .toString();
    } catch (CharacterCodingException e) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, "description is not valid UTF-8");
    }
    Keystore genesisKeystore = null;
    if (version == VERSION_3) {
      genesisKeystore = Keystore.read(in);
      Problem problem = genesisKeystoreProblem(creator, writers, genesisKeystore);
      if (problem != null) {
        throw new VerificationException(problem.failure(), problem.message());
      }
    }
    return new Metadata(
        version, creator, createdAt, policy, maxSubRecords, maxSubRecordBytes, writers, description, genesisKeystore);
  }

  private byte[] encode() {
    byte[] text = description.getBytes(StandardCharsets.UTF_8);
    int textLength = text.length;
    byte[] keystore = genesisKeystore == null ? new byte[0] : genesisKeystore.encode();
    ByteBuffer out = ByteBuffer.allocate(
        1 + 32 + 8 + 1 + 4 + 4 + 2 + writers.size() * 33 + 2 + textLength + keystore.length);
    out.put((byte) version);
    out.put(creator.toByteArray());
    out.putLong(createdAtMillis);
    out.put((byte) signingPolicy.code());
    out.putInt((int) maxSubRecords);
    out.putInt((int) maxSubRecordBytes);
    out.putShort((short) writers.size());
    writers.forEach(
        (key, bits) -> {
          out.put(key.toByteArray());
          out.put((byte) (int) bits);
        });
    out.putShort((short) textLength);
    out.put(text, 0, textLength);
    out.put(keystore);
    return out.array();
  }

  /** The canonical bytes (a copy). */
  public byte[] encoded() {
    return encoded.clone();
  }

  byte[] encodedUnsafe() {
    return encoded;
  }

  /**
   * The format version: {@link #VERSION} (1), {@link #VERSION_2} or {@link #VERSION_3}; a capsule's records
   * use the same.
   */
  public int version() {
    return version;
  }

  /** Whether membership records govern the writers: versions 2 and 3. */
  public boolean hasMembers() {
    return version >= VERSION_2;
  }

  /** Whether the capsule is private (version 3): its data payloads are encrypted under epochs. */
  public boolean isPrivate() {
    return version == VERSION_3;
  }

  /** The genesis keystore block, which starts the first epoch; null unless {@link #isPrivate()}. */
  public @Nullable Keystore genesisKeystoreOrNull() {
    return genesisKeystore;
  }

  public PublicKey creator() {
    return creator;
  }

  public long createdAtMillis() {
    return createdAtMillis;
  }

  public SigningPolicy signingPolicy() {
    return signingPolicy;
  }

  /** The most sub-records one record may hold. */
  public long maxSubRecords() {
    return maxSubRecords;
  }

  /** The largest sub-record payload, in bytes. */
  public long maxSubRecordBytes() {
    return maxSubRecordBytes;
  }

  /**
   * Writers and their permission bits, in canonical (ascending key) order. In version 2 these are the
   * genesis members besides the creator; membership records change them afterwards.
   */
  public SortedMap<PublicKey, Integer> writers() {
    return writers;
  }

  /**
   * Whether {@code writer} may append records to a version-1 capsule. For version 2 this answers for
   * the genesis state only (listed writers, not the creator); who may append later depends on the
   * membership records before a record ({@link Membership}).
   */
  public boolean mayAppend(PublicKey writer) {
    Integer bits = writers.get(writer);
    return bits != null && Permissions.has(bits, Permissions.ADD);
  }

  public String description() {
    return description;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Metadata other && java.util.Arrays.equals(encoded, other.encoded);
  }

  @Override
  public int hashCode() {
    return java.util.Arrays.hashCode(encoded);
  }

  @Override
  public String toString() {
    return "Metadata[v" + version + " creator=" + creator + ", policy=" + signingPolicy + ", writers=" + writers.size() + "]";
  }
}
