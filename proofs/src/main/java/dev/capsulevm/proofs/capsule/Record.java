package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.MemberChange;
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
    Objects.requireNonNull(kind, "kind");
    if (kind == RecordKind.MEMBERSHIP) {
      if (!sign) {
        throw new IllegalArgumentException("a membership record is always signed");
      }
      if (payloads.size() != 1) {
        throw new IllegalArgumentException("a membership record holds exactly 1 sub-record, got " + payloads.size());
      }
      try {
        MemberChange.parse(payloads.get(0));
      } catch (VerificationException e) {
        throw new IllegalArgumentException("a membership record's sub-record is a change body: " + e.getMessage(), e);
      }
    }
    Hash capsuleId = membership.capsuleId();
    Layout layout = layout(capsuleId, parents, source);
    List<Hash> authParents = membership.authParentsFor(layout.parents(), source, changelog);
    if (authParents.size() > RecordHeader.MAX_AUTH_PARENTS) {
      throw new IllegalArgumentException(
          "the parents have " + authParents.size() + " latest membership records, more than "
              + RecordHeader.MAX_AUTH_PARENTS + " auth parents; merge fewer branches");
    }
    Hash memberRoot = membership.stateBefore(authParents, changelog).root();
    RecordHeader header =
        RecordHeader.createV2(
            capsuleId,
            layout.height(),
            timestampMillis,
            writer.publicKey(),
            kind,
            payloads.size(),
            Merkle.root(payloads),
            memberRoot,
            authParents,
            layout.parents(),
            layout.skips());
    return new Record(header, sign ? writer.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray()) : null);
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

  /** Whether the signature is the header's writer's over the record hash; false when unsigned. */
  public boolean hasValidSignature() {
    return signature != null
        && header.writer().verify(Domain.RECORD_SIGNATURE, header.hash().toByteArray(), signature);
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
