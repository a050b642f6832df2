package dev.capsulevm.program;

import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.crypto.Signature;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The program-data layout of an {@code AppendRecord} input, big-endian:
 *
 * <pre>
 * u32 record count (at least 1)
 * per record:
 *   u32 header length, header bytes (RecordHeader's canonical encoding)
 *   u8 signed flag (0 or 1), then 64 signature bytes when it is 1
 *   u32 sub-record count, then per sub-record: u32 length, payload bytes
 * </pre>
 *
 * Nothing may follow the last record. Parsing checks every length against the bytes left before
 * allocating, so a hostile count allocates nothing.
 */
public final class AppendEncoding {
  /** The fewest bytes one record can occupy: header length, flag, sub-record count. */
  public static final int MIN_RECORD_BYTES = 4 + 1 + 4;

  private AppendEncoding() {}

  /** Encodes records in the layout above. */
  public static byte[] encode(List<RecordWithBody> records) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    writeInt(out, records.size());
    for (RecordWithBody item : records) {
      byte[] header = item.record().header().encoded();
      writeInt(out, header.length);
      out.writeBytes(header);
      Signature signature = item.record().signatureOrNull();
      out.write(signature == null ? 0 : 1);
      if (signature != null) {
        out.writeBytes(signature.toByteArray());
      }
      writeInt(out, item.payloads().size());
      for (byte[] payload : item.payloads()) {
        writeInt(out, payload.length);
        out.writeBytes(payload);
      }
    }
    return out.toByteArray();
  }

  /**
   * The record count an input declares, capped by what its length could hold; 0 when it is too short.
   * Used to bound an append's output before it runs.
   */
  public static long declaredCountBound(byte[] input) {
    if (input.length < 4) {
      return 0;
    }
    long declared = ByteBuffer.wrap(input).getInt() & 0xFFFFFFFFL;
    return Math.min(declared, (input.length - 4) / MIN_RECORD_BYTES);
  }

  /** Parses exactly one input in the layout above. Does not validate signatures or parents. */
  public static List<RecordWithBody> parse(byte[] input) throws VerificationException {
    ByteBuffer in = ByteBuffer.wrap(input);
    long count = u32(in, "record count");
    if (count == 0) {
      throw malformed("an append holds at least one record");
    }
    if (count > in.remaining() / MIN_RECORD_BYTES) {
      throw malformed("record count " + count + " cannot fit in " + in.remaining() + " bytes");
    }
    List<RecordWithBody> records = new ArrayList<>((int) count);
    for (long r = 0; r < count; r++) {
      byte[] headerBytes = bytes(in, u32(in, "header length"), "header of record " + r);
      RecordHeader header = RecordHeader.parse(headerBytes);
      int flag = in.hasRemaining() ? in.get() : -1;
      Signature signature = null;
      if (flag == 1) {
        signature = Signature.copyOf(bytes(in, Signature.LENGTH, "signature of record " + r));
      } else if (flag != 0) {
        throw malformed("record " + r + " has signed flag " + flag);
      }
      long subCount = u32(in, "sub-record count");
      if (subCount > in.remaining() / 4) {
        throw malformed("sub-record count " + subCount + " cannot fit in " + in.remaining() + " bytes");
      }
      List<byte[]> payloads = new ArrayList<>((int) subCount);
      for (long s = 0; s < subCount; s++) {
        payloads.add(bytes(in, u32(in, "sub-record length"), "sub-record " + s + " of record " + r));
      }
      records.add(new RecordWithBody(Record.of(header, signature), payloads));
    }
    if (in.hasRemaining()) {
      throw malformed(in.remaining() + " bytes after the last record");
    }
    return records;
  }

  private static long u32(ByteBuffer in, String what) throws VerificationException {
    if (in.remaining() < 4) {
      throw malformed("truncated " + what);
    }
    return in.getInt() & 0xFFFFFFFFL;
  }

  private static byte[] bytes(ByteBuffer in, long length, String what) throws VerificationException {
    if (length > in.remaining()) {
      throw malformed(what + " needs " + length + " bytes, " + in.remaining() + " left");
    }
    byte[] out = new byte[(int) length];
    in.get(out);
    return out;
  }

  private static VerificationException malformed(String message) {
    return new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, message);
  }

  private static void writeInt(ByteArrayOutputStream out, int value) {
    out.write(value >>> 24);
    out.write(value >>> 16);
    out.write(value >>> 8);
    out.write(value);
  }
}
