package dev.capsulevm.host.store;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.crypto.Signature;
import java.nio.ByteBuffer;

/**
 * The value of a record in {@code records}: a flag (0 unsigned, 1 signed), the signature (64, when
 * signed), then {@link RecordHeader#encoded()}, so what is stored is exactly what is hashed and signed.
 */
final class StoredRecords {
  private static final byte UNSIGNED = 0;
  private static final byte SIGNED = 1;

  private StoredRecords() {}

  static byte[] encode(Record record) {
    byte[] header = record.header().encoded();
    Signature signature = record.signatureOrNull();
    int signatureLength = signature == null ? 0 : Signature.LENGTH;
    byte[] out = new byte[1 + signatureLength + header.length];
    out[0] = signature == null ? UNSIGNED : SIGNED;
    if (signature != null) {
      signature.copyTo(out, 1);
    }
    System.arraycopy(header, 0, out, 1 + signatureLength, header.length);
    return out;
  }

  static Record decode(Hash recordHash, byte[] stored) {
    return decode(recordHash, ByteBuffer.wrap(stored));
  }

  /**
   * Parses a stored record value in place: {@code stored} may be LMDB's memory (valid only inside its
   * transaction), so everything the returned record holds is copied out of it here, straight into the
   * arrays the record keeps (the header bytes once into the array {@link RecordHeader#parse} reads, the
   * signature once), with no intermediate copy of the whole value. Reads by absolute index and leaves
   * {@code stored} untouched.
   *
   * @throws StorageCorruptionException when the value does not parse or its header does not hash to
   *     {@code recordHash}
   */
  static Record decode(Hash recordHash, ByteBuffer stored) {
    try {
      int at = stored.position();
      int length = stored.remaining();
      if (length < 1) {
        throw new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, "empty value");
      }
      byte flag = stored.get(at);
      Signature signature = null;
      int headerAt = 1;
      if (flag == SIGNED) {
        if (length < 1 + Signature.LENGTH) {
          throw new VerificationException(
              VerificationException.Failure.MALFORMED_ENCODING, "value too short for its signature");
        }
        byte[] signatureBytes = new byte[Signature.LENGTH];
        stored.get(at + 1, signatureBytes);
        signature = Signature.copyOf(signatureBytes);
        headerAt += Signature.LENGTH;
      } else if (flag != UNSIGNED) {
        throw new VerificationException(
            VerificationException.Failure.MALFORMED_ENCODING, "unknown record flag " + flag);
      }
      byte[] headerBytes = new byte[length - headerAt];
      stored.get(at + headerAt, headerBytes);
      RecordHeader header = RecordHeader.parse(headerBytes);
      if (!header.hash().equals(recordHash)) {
        throw new VerificationException(VerificationException.Failure.MALFORMED_ENCODING,
            "the header hashes to " + header.hash().toHex());
      }
      return Record.of(header, signature);
    } catch (VerificationException | RuntimeException e) {
      throw StorageCorruptionException.unparsable(Layout.DB_RECORDS, recordHash.toByteArray(), e);
    }
  }
}
