package dev.capsulevm.program;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.members.MemberEntryProof;
import org.jspecify.annotations.Nullable;

/**
 * Upper bounds on the canonical size of instruction outputs ({@link OutputEncoding}). The host charges
 * bandwidth on them before an instruction runs and the renter computes the same figures from what it
 * holds, so both sides share this one definition. Transport envelopes are not included: whoever carries
 * an output adds its own (the host and the renter add the gRPC response message's).
 */
public final class OutputBounds {
  /**
   * The largest encoded valid record header, of any version: a version-2 header's 153 fixed bytes (a
   * version-1 header has 119) plus at most 255 auth parents, 255 parents and 255 skip pointers of 32
   * bytes each. A version-3 data header has 217 fixed bytes, but the skip rule allows at most 61 skip
   * pointers, so no valid header of any version is longer than 217 + 32 × (255 + 255 + 61) = 18,489.
   */
  public static final long MAX_HEADER_BYTES = 153 + 3L * 255 * 32;
  /**
   * The largest member entry proof a record proof carries for its version-2 target: 19 fixed bytes and
   * an inclusion path of at most 32 hashes (a member state holds fewer than 2^32 entries).
   */
  public static final long MAX_MEMBER_ENTRY_BYTES = 19 + 32L * 32;
  /** The largest encoded inclusion proof: index, tree size, path length and 64 path hashes. */
  public static final long MAX_INCLUSION_BYTES = 8 + 8 + 4 + 64L * 32;
  /** What an encoded record adds to its header: the header's length prefix, the signed flag, a signature. */
  public static final long RECORD_OVERHEAD = 4 + 1 + 64;
  /** {@code CreateCapsule}: the capsule id. */
  public static final long CREATE_CAPSULE = Hash.LENGTH;
  /**
   * {@code HasRecord} of a record of unknown size: the flag, then the largest header's length and bytes.
   * The host charges {@link #hasRecord} (exact); a renter that does not hold the header budgets this.
   */
  public static final long HAS_RECORD = 1 + 4 + MAX_HEADER_BYTES;
  /**
   * {@code ReadByHash} of a record of unknown size: {@link #HAS_RECORD} plus the signed flag, the
   * signature and the sub-record count. The host charges {@link #readByHash} (exact).
   */
  public static final long READ_BY_HASH = HAS_RECORD + 1 + 64 + 8;
  /** The output of a {@code HasRecord} or {@code ReadByHash} for a record that is not held: its flag. */
  public static final long ABSENT = 1;

  private OutputBounds() {}

  /**
   * {@code HasRecord}, exactly: the flag, then the header's length and bytes when the record is held
   * ({@code headerOrNull} not null), the flag alone when not.
   */
  public static long hasRecord(@Nullable RecordHeader headerOrNull) {
    return headerOrNull == null ? ABSENT : 1 + 4 + headerOrNull.encodedLength();
  }

  /**
   * {@code ReadByHash}, exactly: the flag, the record (header's length and bytes, the signed flag, the
   * signature if any) and the sub-record count when it is held ({@code recordOrNull} not null), the flag
   * alone when not.
   */
  public static long readByHash(@Nullable Record recordOrNull) {
    if (recordOrNull == null) {
      return ABSENT;
    }
    long signature = recordOrNull.signatureOrNull() == null ? 0 : 64;
    return 1 + 4 + recordOrNull.header().encodedLength() + 1 + signature + 8;
  }

  /**
   * {@code Metadata}, exactly: the length and bytes of signed metadata of {@code signedMetadataLength}
   * bytes. A renter that does not hold the metadata bounds its length by the price table's
   * {@code maxRecordBytes}, which also bounds the {@code CreateCapsule} input it came from.
   */
  public static long metadata(long signedMetadataLength) {
    if (signedMetadataLength < 0) {
      throw new IllegalArgumentException("a length is never negative, got " + signedMetadataLength);
    }
    return 4 + signedMetadataLength;
  }

  /** {@code AppendRecord}: the list of heads after the append, at most {@code heads + records} of them. */
  public static long append(long heads, long records) {
    return 4 + Hash.LENGTH * (heads + records);
  }

  /** The exact size of one head in a {@code Heads} output, beyond the list's 4-byte count. */
  public static long head(RecordHeader header) {
    return header.encodedLength() + RECORD_OVERHEAD;
  }

  /**
   * The encoded size of a proof along {@code path}, with, for a sub-record, the largest inclusion proof
   * in the target's tree: what a proof along the anchor's primary chain is charged. The writer's member
   * entry counts at its exact size when the path carries it (the host always knows it), at
   * {@link #MAX_MEMBER_ENTRY_BYTES} for a version-2 target without it (a renter that does not know the
   * member state), and 0 for a version-1 target; its 4-byte length is always there.
   */
  public static long proof(RecordProof path, boolean subRecord) {
    long bytes = 4;
    for (RecordHeader header : path.headers()) {
      bytes += 4 + header.encodedLength();
    }
    return bytes + 4 + memberEntry(path) + (subRecord ? inclusion(path.target().subRecordCount()) : 0);
  }

  /** The bytes of {@code path}'s writer entry, or its bound when a version-2 target's entry is absent. */
  private static long memberEntry(RecordProof path) {
    MemberEntryProof entry = path.writerEntryOrNull();
    if (entry != null) {
      return entry.encode().length;
    }
    return path.target().version() == RecordHeader.VERSION ? 0 : MAX_MEMBER_ENTRY_BYTES;
  }

  /**
   * A proof bound from heights alone: a proof never holds more than one header per height, each at most
   * {@link #MAX_HEADER_BYTES}, then a writer entry of at most {@link #MAX_MEMBER_ENTRY_BYTES} (the target's
   * version is not known here); for a sub-record, plus {@code inclusionBytes}.
   */
  public static long proofByHeights(long anchorHeight, long targetHeight, boolean subRecord, long inclusionBytes) {
    long headers = anchorHeight - targetHeight + 1;
    return 4 + headers * (4 + MAX_HEADER_BYTES) + 4 + MAX_MEMBER_ENTRY_BYTES + (subRecord ? inclusionBytes : 0);
  }

  /**
   * {@code ReadSubRecord} of a held sub-record: the flag, the payload's length and at most
   * {@code maxSubRecordBytes} bytes, and the sub-record proof of {@code proofBytes}.
   */
  public static long readSubRecord(long maxSubRecordBytes, long proofBytes) {
    return 1 + 4 + maxSubRecordBytes + proofBytes;
  }

  /**
   * {@code ReadSubRecord} of a dropped sub-record: the flag, the leaf hash, the sub-record proof of
   * {@code proofBytes} and the witness's record proof of {@code witnessProofBytes}.
   */
  public static long readDroppedSubRecord(long proofBytes, long witnessProofBytes) {
    return 1 + Hash.LENGTH + proofBytes + witnessProofBytes;
  }

  /** An RFC 9162 inclusion proof in a tree of {@code size} leaves: index, size, count, at most ceil(log2 size) hashes. */
  public static long inclusion(long size) {
    int pathLength = size <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(size - 1);
    return 8 + 8 + 4 + (long) Hash.LENGTH * pathLength;
  }
}
