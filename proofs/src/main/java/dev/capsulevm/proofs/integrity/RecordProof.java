package dev.capsulevm.proofs.integrity;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordHeader;
import java.util.ArrayList;
import java.util.List;

/**
 * The headers on a path from a trusted anchor down to a record. The first header is the anchor (or a
 * record the verifier has cached); each next one is named by a parent or skip pointer of the one
 * before; the last is the proven record.
 */
public record RecordProof(List<RecordHeader> headers) {
  public RecordProof {
    headers = List.copyOf(headers);
    if (headers.isEmpty()) {
      throw new IllegalArgumentException("a record proof holds at least the proven record's header");
    }
  }

  /** Parses the canonical header bytes a proof message carries. */
  public static RecordProof parse(List<byte[]> encodedHeaders) throws VerificationException {
    List<RecordHeader> headers = new ArrayList<>(encodedHeaders.size());
    for (byte[] encoded : encodedHeaders) {
      headers.add(RecordHeader.parse(encoded));
    }
    if (headers.isEmpty()) {
      throw new VerificationException(VerificationException.Failure.BROKEN_PATH, "the proof holds no header");
    }
    return new RecordProof(headers);
  }

  /** The proven record's header. */
  public RecordHeader target() {
    return headers.get(headers.size() - 1);
  }

  /** The hash of the first header, where the proof starts. */
  public Hash start() {
    return headers.get(0).hash();
  }

  /** The total canonical bytes of the headers: the proof's size on the wire, framing aside. */
  public long encodedLength() {
    long total = 0;
    for (RecordHeader header : headers) {
      total += header.encodedLength();
    }
    return total;
  }
}
