package dev.capsulevm.host.replication;

import com.google.protobuf.ByteString;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The record bytes that travel beside a turn: for each entry of the turn's Records messages, in order,
 * {@code u32 length || the record in the append layout (a count of 1, then the record)}. The stream is cut
 * into frames of at most a chunk each, so a turn moving a million records never needs one huge message
 * and neither side holds more than a chunk and one record of it.
 */
final class RecordStream {
  private RecordStream() {}

  /** One entry of the stream: {@code u32 length || the record in the append layout}. */
  static byte[] entry(RecordWithBody record) {
    byte[] encoded = AppendEncoding.encode(List.of(record));
    return ByteBuffer.allocate(4 + encoded.length).putInt(encoded.length).put(encoded).array();
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
          List<RecordWithBody> parsed = AppendEncoding.parse(record.toByteArray());
          if (parsed.size() != 1) {
            throw malformed("an entry of the record stream holds " + parsed.size() + " records, not 1");
          }
          out.add(parsed.get(0));
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

    private static VerificationException malformed(String message) {
      return new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, message);
    }
  }
}
