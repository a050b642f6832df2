package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
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
   * Builds the next record of a capsule: computes the height, orders the parents canonically (a
   * highest parent first), fills in the skip pointers from {@code source} and signs the record hash.
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
    List<Hash> skips = expectedSkipPointers(height, primary, source);
    RecordHeader header =
        RecordHeader.create(
            capsuleId,
            height,
            timestampMillis,
            writer.publicKey(),
            payloads.size(),
            Merkle.root(payloads),
            ordered,
            skips);
    return new Record(header, sign ? writer.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray()) : null);
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
