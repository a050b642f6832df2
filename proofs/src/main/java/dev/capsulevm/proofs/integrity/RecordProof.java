package dev.capsulevm.proofs.integrity;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.members.MemberEntryProof;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The headers on a path from a trusted anchor down to a record. The first header is the anchor (or a
 * record the verifier has cached); each next one is named by a parent or skip pointer of the one
 * before; the last is the proven record.
 *
 * <p>When the proven header is version 2 or 3, the proof also carries its writer's entry in the header's
 * member root ({@link #writerEntryOrNull}), which shows the writer held the right for the record; a
 * version-1 proof carries none.
 */
public record RecordProof(List<RecordHeader> headers, @Nullable MemberEntryProof writerEntryOrNull) {
  public RecordProof {
    headers = List.copyOf(headers);
    if (headers.isEmpty()) {
      throw new IllegalArgumentException("a record proof holds at least the proven record's header");
    }
    if (writerEntryOrNull != null && headers.get(headers.size() - 1).version() == RecordHeader.VERSION) {
      throw new IllegalArgumentException("a proof of a version-1 record carries no member entry");
    }
  }

  /** A proof without a member entry: of a version-1 record (a version-2 one fails verification). */
  public RecordProof(List<RecordHeader> headers) {
    this(headers, null);
  }

  /** Parses the canonical header bytes a proof message carries, without a member entry. */
  public static RecordProof parse(List<byte[]> encodedHeaders) throws VerificationException {
    return parse(encodedHeaders, null);
  }

  /**
   * Parses the canonical header bytes and the writer's member entry a proof message carries.
   *
   * @param writerEntryOrNull the entry's canonical bytes; null or empty when there is none
   * @throws VerificationException MALFORMED_ENCODING for bytes that do not parse or an entry with a
   *     version-1 target; BROKEN_PATH for no header
   */
  public static RecordProof parse(List<byte[]> encodedHeaders, byte @Nullable [] writerEntryOrNull)
      throws VerificationException {
    List<RecordHeader> headers = new ArrayList<>(encodedHeaders.size());
    for (byte[] encoded : encodedHeaders) {
      headers.add(RecordHeader.parse(encoded));
    }
    if (headers.isEmpty()) {
      throw new VerificationException(Failure.BROKEN_PATH, "the proof holds no header");
    }
    MemberEntryProof entry = null;
    if (writerEntryOrNull != null && writerEntryOrNull.length > 0) {
      if (headers.get(headers.size() - 1).version() == RecordHeader.VERSION) {
        throw new VerificationException(
            Failure.MALFORMED_ENCODING, "a proof of a version-1 record carries no member entry");
      }
      entry = MemberEntryProof.parse(writerEntryOrNull);
    }
    return new RecordProof(headers, entry);
  }

  /** The proven record's header. */
  public RecordHeader target() {
    return headers.get(headers.size() - 1);
  }

  /** The hash of the first header, where the proof starts. */
  public Hash start() {
    return headers.get(0).hash();
  }

  /**
   * The total canonical bytes of the headers and the member entry: the proof's size on the wire,
   * framing aside.
   */
  public long encodedLength() {
    long total = writerEntryOrNull == null ? 0 : writerEntryOrNull.encode().length;
    for (RecordHeader header : headers) {
      total += header.encodedLength();
    }
    return total;
  }
}
