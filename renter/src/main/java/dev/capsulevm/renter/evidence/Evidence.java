package dev.capsulevm.renter.evidence;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordHeader;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * A misbehaviour evidence file: a record of a capsule and two claims about it, signed by one host, that
 * cannot both be true (docs/FORMAT.md, "Evidence"). {@link EvidenceVerifier} checks it offline.
 *
 * @param held a claim that the host held the record at one time
 * @param contradiction a later claim that contradicts it: the host denies the record ({@link
 *     Kind#DENIED_RECORD}), or names heads that all lie below it ({@link Kind#ROLLBACK})
 */
public record Evidence(Kind kind, Hash capsuleId, RecordHeader record, Claim held, Claim contradiction) {
  private static final byte[] MAGIC = "CVMEVID1".getBytes(StandardCharsets.US_ASCII);

  /** What the second claim says against the first. */
  public enum Kind {
    /** The host says it does not hold a record it earlier held. */
    DENIED_RECORD(1),
    /** The host names heads that all lie below a record it earlier held: it rolled the capsule back. */
    ROLLBACK(2);

    private final int code;

    Kind(int code) {
      this.code = code;
    }

    public int code() {
      return code;
    }
  }

  public Evidence {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(record, "record");
    Objects.requireNonNull(held, "held");
    Objects.requireNonNull(contradiction, "contradiction");
  }

  /** The file's bytes. */
  public byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.write(MAGIC);
      out.writeByte(kind.code());
      out.write(capsuleId.toByteArray());
      byte[] header = record.encoded();
      out.writeInt(header.length);
      out.write(header);
      ClaimCodec.write(held, out);
      ClaimCodec.write(contradiction, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** Parses exactly one evidence file; does not verify it ({@link EvidenceVerifier} does). */
  public static Evidence parse(byte[] bytes) throws EvidenceException {
    if (bytes.length < MAGIC.length || !Arrays.equals(Arrays.copyOf(bytes, MAGIC.length), MAGIC)) {
      throw new EvidenceException("not a capsulevm evidence file (it does not start with CVMEVID1)");
    }
    CanonicalReader in = new CanonicalReader(bytes, "evidence");
    try {
      in.bytes(MAGIC.length, "magic");
      int code = in.u8("kind");
      Kind kind = null;
      for (Kind k : Kind.values()) {
        if (k.code() == code) {
          kind = k;
        }
      }
      if (kind == null) {
        throw new EvidenceException("evidence kind " + code + " is unknown (1 denied record, 2 rollback)");
      }
      Hash capsule = in.hash("capsule id");
      RecordHeader record = RecordHeader.parse(ClaimCodec.lengthPrefixed(in, "record header"));
      Claim held = ClaimCodec.read(in);
      Claim contradiction = ClaimCodec.read(in);
      in.end();
      return new Evidence(kind, capsule, record, held, contradiction);
    } catch (VerificationException e) {
      throw new EvidenceException("the evidence does not parse: " + e.getMessage(), e);
    }
  }
}
