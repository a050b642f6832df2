package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The unsigned body of a capsule's metadata: who created it, who may write, how records are signed and
 * the limits every record obeys. Immutable; its canonical bytes are laid out in docs/FORMAT.md.
 */
public final class Metadata {
  /** Version 1: writers fixed by the metadata, what {@link #create} writes. */
  public static final int VERSION = 1;
  /** Version 2: writers are the genesis members, changed by membership records; {@link #createV2}. */
  public static final int VERSION_2 = 2;
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
  private final byte[] encoded;

  private Metadata(
      int version,
      PublicKey creator,
      long createdAtMillis,
      SigningPolicy signingPolicy,
      long maxSubRecords,
      long maxSubRecordBytes,
      SortedMap<PublicKey, Integer> writers,
      String description) {
    this.version = version;
    this.creator = creator;
    this.createdAtMillis = createdAtMillis;
    this.signingPolicy = signingPolicy;
    this.maxSubRecords = maxSubRecords;
    this.maxSubRecordBytes = maxSubRecordBytes;
    this.writers = Collections.unmodifiableSortedMap(writers);
    this.description = description;
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
        VERSION, creator, createdAtMillis, signingPolicy, maxSubRecords, maxSubRecordBytes, writers, description);
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
        VERSION_2, creator, createdAtMillis, signingPolicy, maxSubRecords, maxSubRecordBytes, writers, description);
  }

  private static Metadata create(
      int version,
      PublicKey creator,
      long createdAtMillis,
      SigningPolicy signingPolicy,
      long maxSubRecords,
      long maxSubRecordBytes,
      Map<PublicKey, Integer> writers,
      String description) {
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
      String problem = version == VERSION_2 ? v2WriterProblem(creator, key, bits) : null;
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
      sorted.put(key, bits);
    }
    if (description.getBytes(StandardCharsets.UTF_8).length > MAX_DESCRIPTION_BYTES) {
      throw new IllegalArgumentException("description longer than " + MAX_DESCRIPTION_BYTES + " bytes");
    }
    return new Metadata(
        version, creator, createdAtMillis, signingPolicy, maxSubRecords, maxSubRecordBytes, sorted, description);
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
    if (version != VERSION && version != VERSION_2) {
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
      String problem = version == VERSION_2 ? v2WriterProblem(creator, key, bits) : null;
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
    return new Metadata(
        version, creator, createdAt, policy, maxSubRecords, maxSubRecordBytes, writers, description);
  }

  private byte[] encode() {
    byte[] text = description.getBytes(StandardCharsets.UTF_8);
    int textLength = text.length;
    ByteBuffer out =
        ByteBuffer.allocate(1 + 32 + 8 + 1 + 4 + 4 + 2 + writers.size() * 33 + 2 + textLength);
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
    return out.array();
  }

  /** The canonical bytes (a copy). */
  public byte[] encoded() {
    return encoded.clone();
  }

  byte[] encodedUnsafe() {
    return encoded;
  }

  /** The format version: {@link #VERSION} (1) or {@link #VERSION_2}; a capsule's records use the same. */
  public int version() {
    return version;
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
