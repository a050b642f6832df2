package dev.capsulevm.host.replication;

import com.google.protobuf.ByteString;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The record bytes that travel beside a turn: for each entry of the turn's Records messages, in order,
 * {@code u32 length || the record in the append layout (a count of 1, then the record)}. A record whose
 * payloads were dropped under its capsule's retention policy travels in the dropped form instead, which
 * starts where the append layout's record count would with {@code u32 0} (a count the append layout
 * never has): {@code u32 0 || u32 headerLength || header || u8 signed || signature (64, when signed) ||
 * u32 n || n × leaf hash (32) || witness (32)}. The stream is cut into frames of at most a chunk each,
 * so a turn moving a million records never needs one huge message and neither side holds more than a
 * chunk and one record of it.
 */
final class RecordStream {
  private RecordStream() {}

  /** One entry of the stream: {@code u32 length || the record in the append layout, or dropped}. */
  static byte[] entry(RecordWithBody record) {
    byte[] encoded = record.isDropped() ? dropped(record) : AppendEncoding.encode(List.of(record));
    return ByteBuffer.allocate(4 + encoded.length).putInt(encoded.length).put(encoded).array();
  }

  /** The dropped form of a record without its payloads. */
  static byte[] dropped(RecordWithBody record) {
    byte[] header = record.record().header().encoded();
    Signature signature = record.record().signatureOrNull();
    MerkleTree tree = record.tree();
    long leaves = tree.size();
    ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(4 + 4 + header.length + 1 + (signature == null ? 0 : 64)
        + 4 + Hash.LENGTH * leaves + Hash.LENGTH));
    out.putInt(0).putInt(header.length).put(header).put((byte) (signature == null ? 0 : 1));
    if (signature != null) {
      out.put(signature.toByteArray());
    }
    out.putInt((int) leaves);
    for (long i = 0; i < leaves; i++) {
      out.put(tree.leafHash(i).toByteArray());
    }
    out.put(Objects.requireNonNull(record.witnessOrNull(), "a dropped record names its witness").toByteArray());
    return out.array();
  }

  /** Parses the dropped form, strictly (nothing may follow the witness). */
  static RecordWithBody parseDropped(byte[] bytes) throws VerificationException {
    CanonicalReader in = new CanonicalReader(bytes, "dropped record");
    if (in.u32("dropped mark") != 0) {
      throw malformed("a dropped record starts with u32 0");
    }
    long headerLength = in.u32("header length");
    if (headerLength > bytes.length) {
      throw malformed("a header of " + headerLength + " bytes in a dropped record of " + bytes.length);
    }
    RecordHeader header = RecordHeader.parse(in.bytes((int) headerLength, "header"));
    int signed = in.u8("signed flag");
    if (signed > 1) {
      throw malformed("signed flag " + signed);
    }
    Signature signature = signed == 1 ? in.signature("signature") : null;
    long leaves = in.u32("leaf hash count");
    List<Hash> leafHashes = new ArrayList<>();
    for (long i = 0; i < leaves; i++) {
      leafHashes.add(in.hash("leaf hash " + i));
    }
    Hash witness = in.hash("witness");
    in.end();
    return RecordWithBody.dropped(Record.of(header, signature), leafHashes, witness);
  }

  /** Whether an entry's bytes are the dropped form: they start with {@code u32 0}. */
  private static boolean isDropped(byte[] entry) {
    return entry.length >= 4 && entry[0] == 0 && entry[1] == 0 && entry[2] == 0 && entry[3] == 0;
  }

  private static VerificationException malformed(String message) {
    return new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, message);
  }

  /**
   * Parses the stream piece by piece; a record that crosses pieces collects the rest as it comes (its
   * buffer grows with what arrives, so an announced length costs a peer nothing until it sends the bytes).
   */
  static final class Decoder {
    private final int maxRecordBytes;
    private final byte[] lengthBytes = new byte[4];
    private int lengthFilled;
    private long recordLength = -1;
    private final ByteArrayOutputStream record = new ByteArrayOutputStream();

    Decoder(int maxRecordBytes) {
      this.maxRecordBytes = maxRecordBytes;
    }

    /** The records completed by {@code piece}. */
    List<RecordWithBody> feed(ByteString piece) throws VerificationException {
      byte[] in = piece.toByteArray();
      List<RecordWithBody> out = new ArrayList<>();
      int at = 0;
      while (at < in.length) {
        if (recordLength < 0) {
          int n = Math.min(4 - lengthFilled, in.length - at);
          System.arraycopy(in, at, lengthBytes, lengthFilled, n);
          lengthFilled += n;
          at += n;
          if (lengthFilled < 4) {
            break;
          }
          recordLength = ByteBuffer.wrap(lengthBytes).getInt() & 0xFFFFFFFFL;
          if (recordLength > maxRecordBytes) {
            throw malformed("a record of " + recordLength + " bytes in the record stream (at most "
                + maxRecordBytes + ")");
          }
        }
        int n = (int) Math.min(recordLength - record.size(), in.length - at);
        record.write(in, at, n);
        at += n;
        if (record.size() == recordLength) {
          byte[] entry = record.toByteArray();
          if (isDropped(entry)) {
            out.add(parseDropped(entry));
          } else {
            List<RecordWithBody> parsed = AppendEncoding.parse(entry);
            if (parsed.size() != 1) {
              throw malformed("an entry of the record stream holds " + parsed.size() + " records, not 1");
            }
            out.add(parsed.get(0));
          }
          record.reset();
          recordLength = -1;
          lengthFilled = 0;
        }
      }
      return out;
    }

    /** Whether the stream ended on a record boundary. */
    boolean atBoundary() {
      return recordLength < 0 && lengthFilled == 0;
    }
  }
}
