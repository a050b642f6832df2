package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Epochs;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.merkle.Merkle;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A record header with its writer's signature over the record hash, or with none where the capsule's
 * heartbeat policy lets an unsigned record be vouched for by a signed descendant.
 */
// The capsule model's own word, used by every module; java.lang.Record is only ever implied by `record`.
@SuppressWarnings("JavaLangClash")
public final class Record {
  private final RecordHeader header;
  private final @Nullable Signature signature;
  /**
   * The signature's check, once made: 0 not yet, 1 valid, -1 not. Both fields it depends on are final, so
   * whichever thread checks first may record it (a benign race, like {@link String#hashCode}).
   */
  private int signatureCheck;

  private Record(RecordHeader header, @Nullable Signature signature) {
    this.header = header;
    this.signature = signature;
  }

  /** A record of {@code header} with {@code signatureOrNull} (null for an unsigned record). */
  public static Record of(RecordHeader header, @Nullable Signature signatureOrNull) {
    return new Record(Objects.requireNonNull(header, "header"), signatureOrNull);
  }

  /**
   * Builds the next record of a version-1 capsule: computes the height, orders the parents canonically
   * (a highest parent first), fills in the skip pointers from {@code source} and signs the record hash.
   *
   * @param parents the records this one follows; the capsule id for the first record
   * @param payloads the sub-records, in order (not copied: the caller must not change them)
   * @param sign whether to sign (false only for a non-final record of a heartbeat append)
   * @throws IllegalArgumentException when a parent or a skip target is not in {@code source}
   */
  public static Record build(
      Hash capsuleId,
      List<Hash> parents,
      List<byte[]> payloads,
      long timestampMillis,
      SigningKey writer,
      boolean sign,
      RecordSource source) {
    Layout layout = layout(capsuleId, parents, source);
    RecordHeader header =
        RecordHeader.create(
            capsuleId,
            layout.height(),
            timestampMillis,
            writer.publicKey(),
            payloads.size(),
            Merkle.root(payloads),
            layout.parents(),
            layout.skips());
    return new Record(header, sign ? writer.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray()) : null);
  }

  /**
   * Builds the next record of a version-2 capsule as {@link #build} does, and computes its auth parents
   * and member root (the root of the state before it) with a fresh {@link Membership}.
   *
   * @param kind {@link RecordKind#MEMBERSHIP} for a record whose one payload is a change body
   * @param changelog every membership record below {@code parents}
   * @param metadata the capsule's version-2 metadata
   * @throws IllegalArgumentException when a parent or a skip target is not in {@code source}, the metadata
   *     is not version 2, or a membership record is unsigned, holds other than one payload or the payload
   *     is not a change body
   */
  public static Record buildV2(
      Hash capsuleId,
      List<Hash> parents,
      List<byte[]> payloads,
      long timestampMillis,
      SigningKey writer,
      boolean sign,
      RecordKind kind,
      RecordSource source,
      Changelog changelog,
      SignedMetadata metadata) {
    if (!metadata.capsuleId().equals(capsuleId)) {
      throw new IllegalArgumentException("the metadata is capsule " + metadata.capsuleId() + "'s, not " + capsuleId + "'s");
    }
    return buildV2(parents, payloads, timestampMillis, writer, sign, kind, source, changelog, new Membership(metadata));
  }

  /**
   * {@link #buildV2(Hash, List, List, long, SigningKey, boolean, RecordKind, RecordSource, Changelog,
   * SignedMetadata)} with the capsule's {@link Membership}, whose cache the caller keeps across records.
   */
  public static Record buildV2(
      List<Hash> parents,
      List<byte[]> payloads,
      long timestampMillis,
      SigningKey writer,
      boolean sign,
      RecordKind kind,
      RecordSource source,
      Changelog changelog,
      Membership membership) {
    if (membership.isPrivate()) {
      throw new IllegalArgumentException("capsule " + membership.capsuleId() + " is private: build with buildV3");
    }
    return draft(parents, source, changelog, membership).build(payloads, timestampMillis, writer, sign, kind, null, null);
  }

  /**
   * Builds the next record of a private (version-3) capsule as {@link #buildV2} does, with the epoch key
   * and enc of a data record. A writer that needs the height or the current epoch before it encrypts
   * the payloads uses {@link #draft} and {@link Draft#build} instead.
   *
   * @param epochKeyOrNull a data record's epoch (the current one, {@link Draft#currentEpochOrNull}); null
   *     for a membership record
   * @param encOrNull a data record's 32-byte HPKE enc; null for a membership record
   * @throws IllegalArgumentException as {@link #buildV2}, when the capsule is not private, when a
   *     membership record holds other than 1 or 2 payloads (a change body, then a keystore block), or
   *     when the epoch key and enc do not suit the kind
   */
  public static Record buildV3(
      List<Hash> parents,
      List<byte[]> payloads,
      long timestampMillis,
      SigningKey writer,
      boolean sign,
      RecordKind kind,
      @Nullable EpochKey epochKeyOrNull,
      byte @Nullable [] encOrNull,
      RecordSource source,
      Changelog changelog,
      Membership membership) {
    if (!membership.isPrivate()) {
      throw new IllegalArgumentException("capsule " + membership.capsuleId() + " is not private: build with buildV2");
    }
    return draft(parents, source, changelog, membership)
        .build(payloads, timestampMillis, writer, sign, kind, epochKeyOrNull, encOrNull);
  }

  /**
   * What the next record of a version-2 or version-3 capsule after {@code parents} will be, before its
   * payloads exist: its height, parents, skip pointers, auth parents, the state before it and (private
   * capsules) the epochs at it. A private capsule's writer reads the height and the current epoch from it
   * to encrypt the payloads, then calls {@link Draft#build}.
   *
   * @throws IllegalArgumentException when a parent or a skip target is not in {@code source}, or the
   *     parents have more than 255 latest membership records
   * @throws IllegalStateException when {@code changelog} lacks a membership record below the parents
   */
  public static Draft draft(List<Hash> parents, RecordSource source, Changelog changelog, Membership membership) {
    Objects.requireNonNull(membership, "membership");
    Hash capsuleId = membership.capsuleId();
    Layout layout = layout(capsuleId, parents, source);
    List<Hash> authParents = membership.authParentsFor(layout.parents(), source, changelog);
    if (authParents.size() > RecordHeader.MAX_AUTH_PARENTS) {
      throw new IllegalArgumentException(
          "the parents have " + authParents.size() + " latest membership records, more than "
              + RecordHeader.MAX_AUTH_PARENTS + " auth parents; merge fewer branches");
    }
    MemberState before = membership.stateBefore(authParents, changelog);
    Epochs epochs = membership.isPrivate() ? membership.epochsBefore(authParents, changelog) : null;
    return new Draft(capsuleId, layout, authParents, before, epochs);
  }

  /** A record of a version-2 or version-3 capsule laid out before its payloads: see {@link #draft}. */
  public static final class Draft {
    private final Hash capsuleId;
    private final Layout layout;
    private final List<Hash> authParents;
    private final MemberState before;
    private final @Nullable Epochs epochs;

    private Draft(Hash capsuleId, Layout layout, List<Hash> authParents, MemberState before, @Nullable Epochs epochs) {
      this.capsuleId = capsuleId;
      this.layout = layout;
      this.authParents = authParents;
      this.before = before;
      this.epochs = epochs;
    }

    /** The record's height: 1 + its highest parent's. */
    public long height() {
      return layout.height();
    }

    /** The parents in header order: the primary (highest) first, the others ascending. */
    public List<Hash> parents() {
      return layout.parents();
    }

    /** The auth parents the record carries. */
    public List<Hash> authParents() {
      return authParents;
    }

    /** The member state before the record; its root is the header's member root. */
    public MemberState stateBefore() {
      return before;
    }

    /** The epochs at the record; null unless the capsule is private. */
    public @Nullable Epochs epochsOrNull() {
      return epochs;
    }

    /** The epoch a data record must be written under; null when none is usable or not private. */
    public @Nullable EpochKey currentEpochOrNull() {
      return epochs == null ? null : epochs.currentOrNull();
    }

    /**
     * The record with these payloads: a version-2 header when the capsule is not private, else version 3.
     *
     * @param epochKeyOrNull a private capsule's data record's epoch; null otherwise
     * @param encOrNull a private capsule's data record's 32-byte HPKE enc; null otherwise
     * @throws IllegalArgumentException when a membership record is unsigned, holds other payloads than a
     *     change body (and, in a private capsule, a keystore block), or the epoch key and enc do not suit
     *     the capsule and kind
     */
    public Record build(
        List<byte[]> payloads,
        long timestampMillis,
        SigningKey writer,
        boolean sign,
        RecordKind kind,
        @Nullable EpochKey epochKeyOrNull,
        byte @Nullable [] encOrNull) {
      Objects.requireNonNull(kind, "kind");
      boolean isPrivate = epochs != null;
      if (kind == RecordKind.MEMBERSHIP) {
        checkMembershipPayloads(payloads, sign, isPrivate);
      }
      RecordHeader header;
      if (isPrivate) {
        header = RecordHeader.createV3(capsuleId, layout.height(), timestampMillis, writer.publicKey(), kind,
            payloads.size(), Merkle.root(payloads), before.root(), epochKeyOrNull, encOrNull, authParents,
            layout.parents(), layout.skips());
      } else {
        if (epochKeyOrNull != null || encOrNull != null) {
          throw new IllegalArgumentException("capsule " + capsuleId + " is not private: its records carry no epoch");
        }
        header = RecordHeader.createV2(capsuleId, layout.height(), timestampMillis, writer.publicKey(), kind,
            payloads.size(), Merkle.root(payloads), before.root(), authParents, layout.parents(), layout.skips());
      }
      return new Record(header, sign ? writer.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray()) : null);
    }
  }

  private static void checkMembershipPayloads(List<byte[]> payloads, boolean sign, boolean isPrivate) {
    if (!sign) {
      throw new IllegalArgumentException("a membership record is always signed");
    }
    int most = isPrivate ? 2 : 1;
    if (payloads.isEmpty() || payloads.size() > most) {
      throw new IllegalArgumentException("a membership record holds " + (isPrivate ? "1 or 2 sub-records" : "exactly 1 sub-record")
          + ", got " + payloads.size());
    }
    try {
      MemberChange change = MemberChange.parse(payloads.get(0));
      if (change instanceof MemberChange.Rekey && !isPrivate) {
        throw new IllegalArgumentException("rekey is for private capsules");
      }
    } catch (VerificationException e) {
      throw new IllegalArgumentException("a membership record's sub-record is a change body: " + e.getMessage(), e);
    }
    if (payloads.size() == 2) {
      try {
        Keystore.parse(payloads.get(1));
      } catch (VerificationException e) {
        throw new IllegalArgumentException("a membership record's sub-record 1 is a keystore block: " + e.getMessage(), e);
      }
    }
  }

  /** Height, canonically ordered parents and skip pointers of a record after {@code parents}. */
  private record Layout(long height, List<Hash> parents, List<Hash> skips) {}

  private static Layout layout(Hash capsuleId, List<Hash> parents, RecordSource source) {
    if (parents.isEmpty()) {
      throw new IllegalArgumentException("a record needs at least one parent");
    }
    Hash primary = parents.get(0);
    long primaryHeight = heightOf(capsuleId, primary, source);
    for (Hash parent : parents.subList(1, parents.size())) {
      long h = heightOf(capsuleId, parent, source);
      if (h > primaryHeight) {
        primary = parent;
        primaryHeight = h;
      }
    }
    List<Hash> ordered = new ArrayList<>();
    ordered.add(primary);
    Hash first = primary;
    parents.stream().filter(p -> !p.equals(first)).distinct().sorted(Comparator.naturalOrder()).forEach(ordered::add);
    long height = primaryHeight + 1;
    return new Layout(height, ordered, expectedSkipPointers(height, primary, source));
  }

  private static long heightOf(Hash capsuleId, Hash parent, RecordSource source) {
    if (parent.equals(capsuleId)) {
      return 0;
    }
    RecordHeader header = source.headerOrNull(parent);
    if (header == null) {
      throw new IllegalArgumentException("parent " + parent + " is not in the record source");
    }
    return header.height();
  }

  /**
   * The skip pointers a record at {@code height} with primary parent {@code primary} must carry. Skip 0
   * is the primary parent's primary parent; skip j is skip j - 1 of the record skip j - 1 names, so the
   * whole list costs one lookup per pointer.
   *
   * @throws IllegalArgumentException when a record on the way is not in {@code source}
   */
  static List<Hash> expectedSkipPointers(long height, Hash primary, RecordSource source) {
    int count = SkipPointers.count(height);
    List<Hash> skips = new ArrayList<>(count);
    if (count == 0) {
      return skips;
    }
    RecordHeader parent = source.headerOrNull(primary);
    if (parent == null) {
      throw new IllegalArgumentException("primary parent " + primary + " is not in the record source");
    }
    skips.add(parent.primaryParent());
    for (int j = 1; j < count; j++) {
      Hash previous = skips.get(j - 1);
      RecordHeader via = source.headerOrNull(previous);
      if (via == null) {
        throw new IllegalArgumentException("skip target " + previous + " is not in the record source");
      }
      skips.add(via.skipPointers().get(j - 1));
    }
    return skips;
  }

  public RecordHeader header() {
    return header;
  }

  /** The record hash. */
  public Hash hash() {
    return header.hash();
  }

  /** The writer's signature over the record hash, or null when the record is unsigned. */
  public @Nullable Signature signatureOrNull() {
    return signature;
  }

  public boolean isSigned() {
    return signature != null;
  }

  /**
   * Whether the signature is the header's writer's over the record hash; false when unsigned. Verified
   * once per record object: a host checks a record it parsed ahead of its program (before the program
   * waits for the capsule) and again when it validates the append.
   */
  public boolean hasValidSignature() {
    int checked = signatureCheck;
    if (checked == 0) {
      boolean valid = signature != null
          && header.writer().verify(Domain.RECORD_SIGNATURE, header.hash().toByteArray(), signature);
      checked = valid ? 1 : -1;
      signatureCheck = checked;
    }
    return checked > 0;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Record other && header.equals(other.header) && Objects.equals(signature, other.signature);
  }

  @Override
  public int hashCode() {
    return header.hashCode();
  }

  @Override
  public String toString() {
    return "Record[" + header.hash() + " height=" + header.height() + (signature == null ? " unsigned]" : "]");
  }
}
