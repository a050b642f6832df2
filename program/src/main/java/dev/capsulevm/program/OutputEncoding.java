package dev.capsulevm.program;

import dev.capsulevm.program.Instruction;
import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import dev.capsulevm.proofs.members.MemberEntryProof;
import dev.capsulevm.proofs.merkle.InclusionProof;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The canonical bytes of an instruction's {@link Output}, as the host sends them and the renter parses
 * them before verifying. All integers big-endian; {@code bytes} is {@code u32 length} then the bytes:
 *
 * <pre>
 * CreateCapsule  capsuleId[32]
 * AppendRecord   u32 n, n x head[32]                         (sorted)
 * ReadSubRecord  u8 0, bytes payload, subRecordProof            held
 *              | u8 1, leafHash[32], subRecordProof,         dropped under the retention policy: the
 *                recordProof                                 witness's proof from the same anchor
 * Prove          recordProof | subRecordProof                (the instruction says which)
 * HasRecord      u8 0 | u8 1, bytes header
 * ReadByHash     u8 0 | u8 1, record, u64 subRecordCount
 * Heads          u32 n, n x record                           (sorted by hash)
 * Metadata       bytes signedMetadata                        (docs/FORMAT.md, "Metadata")
 *
 * record         = bytes header, u8 signed (0|1), [signature[64] when 1]
 * recordProof    = u32 n, n x bytes header, bytes writerEntry (the instruction's anchor first; the
 *                  writer's member entry of a version-2 target, empty for version 1)
 * subRecordProof = recordProof, u64 index, u64 treeSize, u32 m, m x hash[32]
 * </pre>
 *
 * Every length prefix is 4 bytes, which is what {@link OutputBounds} counts. The
 * parser is strict: a truncated field, a bad flag or a trailing byte is refused. A transcript entry
 * carries these bytes ({@link Transcript}), so they are also what the host's receipt signs.
 */
public final class OutputEncoding {
  private OutputEncoding() {}

  /** The canonical bytes of {@code output}. */
  public static byte[] encode(Output output) {
    // Sized up front for the common large output, a sub-record and its proof, so the buffer is not
    // regrown and copied several times per read.
    ByteArrayOutputStream out = new ByteArrayOutputStream(
        output instanceof Output.SubRecord s ? 5 + s.payload().length + proofLength(s.proof()) : 64);
    if (output instanceof Output.CapsuleCreated c) {
      out.writeBytes(c.capsuleId().toByteArray());
    } else if (output instanceof Output.Appended a) {
      hashes(out, a.proposedHeads());
    } else if (output instanceof Output.SubRecord s) {
      out.write(0);
      bytes(out, s.payload());
      subRecordProof(out, s.proof());
    } else if (output instanceof Output.SubRecordDropped d) {
      out.write(1);
      out.writeBytes(d.leafHash().toByteArray());
      subRecordProof(out, d.proof());
      recordProof(out, d.witnessProof());
    } else if (output instanceof Output.Proof p) {
      if (p.recordProofOrNull() != null) {
        recordProof(out, p.recordProofOrNull());
      } else {
        subRecordProof(out, Objects.requireNonNull(p.subRecordProofOrNull()));
      }
    } else if (output instanceof Output.Has h) {
      RecordHeader header = h.headerOrNull();
      out.write(header != null ? 1 : 0);
      if (header != null) {
        bytes(out, header.encoded());
      }
    } else if (output instanceof Output.ByHash b) {
      out.write(b.recordOrNull() == null ? 0 : 1);
      if (b.recordOrNull() != null) {
        record(out, b.recordOrNull());
        u64(out, b.subRecordCount());
      }
    } else if (output instanceof Output.Metadata m) {
      bytes(out, m.signedMetadata().encoded());
    } else {
      List<Record> heads = ((Output.Heads) output).heads();
      u32(out, heads.size());
      for (Record head : heads) {
        record(out, head);
      }
    }
    return out.toByteArray();
  }

  /**
   * Parses the output of {@code instruction} from its canonical bytes. Parsing checks the layout (and,
   * for signed metadata, its creator's signature, which parsing it always does); the caller verifies the
   * other signatures and the proofs.
   */
  public static Output decode(Instruction instruction, byte[] bytes) throws VerificationException {
    CanonicalReader in = new CanonicalReader(bytes, instruction.kind() + " output");
    Output output;
    if (instruction instanceof Instruction.CreateCapsule) {
      output = new Output.CapsuleCreated(in.hash("capsule id"));
    } else if (instruction instanceof Instruction.AppendRecord) {
      output = new Output.Appended(hashes(in, "head"));
    } else if (instruction instanceof Instruction.ReadSubRecord) {
      if (flag(in, "dropped")) {
        Hash leafHash = in.hash("leaf hash");
        SubRecordProof proof = subRecordProof(in);
        output = new Output.SubRecordDropped(leafHash, proof, recordProof(in));
      } else {
        byte[] payload = bytes(in, "payload");
        output = new Output.SubRecord(payload, subRecordProof(in));
      }
    } else if (instruction instanceof Instruction.Prove p) {
      output = p.isSubRecord()
          ? new Output.Proof(null, subRecordProof(in))
          : new Output.Proof(recordProof(in), null);
    } else if (instruction instanceof Instruction.HasRecord) {
      output = flag(in, "held") ? new Output.Has(true, RecordHeader.parse(bytes(in, "header")))
          : new Output.Has(false, null);
    } else if (instruction instanceof Instruction.ReadByHash) {
      output = flag(in, "present") ? new Output.ByHash(record(in), in.u64("sub-record count"))
          : new Output.ByHash(null, 0);
    } else if (instruction instanceof Instruction.Metadata) {
      output = new Output.Metadata(SignedMetadata.parse(bytes(in, "signed metadata")));
    } else {
      long n = in.u32("head count");
      List<Record> heads = new ArrayList<>();
      for (long i = 0; i < n; i++) {
        heads.add(record(in));
      }
      output = new Output.Heads(heads);
    }
    in.end();
    return output;
  }

  /** The length of {@code proof}'s encoding, less its writer's member entry (empty unless version 2). */
  private static int proofLength(SubRecordProof proof) {
    int length = 4 + 4 + 8 + 8 + 4 + Hash.LENGTH * proof.inclusion().path().size();
    for (RecordHeader header : proof.recordProof().headers()) {
      length += 4 + header.encodedLength();
    }
    MemberEntryProof entry = proof.recordProof().writerEntryOrNull();
    return entry == null ? length : length + entry.encodedLength();
  }

  private static void recordProof(ByteArrayOutputStream out, RecordProof proof) {
    u32(out, proof.headers().size());
    for (RecordHeader header : proof.headers()) {
      bytes(out, header.encoded());
    }
    MemberEntryProof entry = proof.writerEntryOrNull();
    bytes(out, entry == null ? new byte[0] : entry.encode());
  }

  private static void subRecordProof(ByteArrayOutputStream out, SubRecordProof proof) {
    recordProof(out, proof.recordProof());
    InclusionProof inclusion = proof.inclusion();
    u64(out, inclusion.index());
    u64(out, inclusion.treeSize());
    hashes(out, inclusion.path());
  }

  private static void record(ByteArrayOutputStream out, Record record) {
    bytes(out, record.header().encoded());
    Signature signature = record.signatureOrNull();
    out.write(signature == null ? 0 : 1);
    if (signature != null) {
      out.writeBytes(signature.toByteArray());
    }
  }

  private static void hashes(ByteArrayOutputStream out, List<Hash> hashes) {
    u32(out, hashes.size());
    for (Hash hash : hashes) {
      out.writeBytes(hash.toByteArray());
    }
  }

  private static void bytes(ByteArrayOutputStream out, byte[] bytes) {
    u32(out, bytes.length);
    out.writeBytes(bytes);
  }

  private static void u32(ByteArrayOutputStream out, long value) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.write((int) (value >>> shift));
    }
  }

  private static void u64(ByteArrayOutputStream out, long value) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.write((int) (value >>> shift));
    }
  }

  private static RecordProof recordProof(CanonicalReader in) throws VerificationException {
    long n = in.u32("proof header count");
    if (n == 0) {
      throw malformed("a record proof holds at least one header");
    }
    List<RecordHeader> headers = new ArrayList<>();
    for (long i = 0; i < n; i++) {
      headers.add(RecordHeader.parse(bytes(in, "proof header " + i)));
    }
    long entryLength = in.u32("writer entry length");
    if (entryLength == 0) {
      return new RecordProof(headers); // a version-2 target without its entry fails verification
    }
    if (headers.get(headers.size() - 1).version() == RecordHeader.VERSION) {
      throw malformed("a proof of a version-1 record carries no writer entry");
    }
    if (entryLength > OutputBounds.MAX_MEMBER_ENTRY_BYTES) {
      throw malformed("a writer entry of " + entryLength + " bytes, more than " + OutputBounds.MAX_MEMBER_ENTRY_BYTES);
    }
    return new RecordProof(headers, MemberEntryProof.parse(in.bytes((int) entryLength, "writer entry")));
  }

  private static SubRecordProof subRecordProof(CanonicalReader in) throws VerificationException {
    RecordProof recordProof = recordProof(in);
    long index = in.u64("inclusion index");
    long treeSize = in.u64("inclusion tree size");
    // Compared unsigned: a u64 above 2^63 - 1 is a negative long, and no tree is that large.
    if (treeSize < 0 || Long.compareUnsigned(index, treeSize) >= 0) {
      throw malformed("inclusion index " + Long.toUnsignedString(index) + " outside a tree of "
          + Long.toUnsignedString(treeSize));
    }
    return new SubRecordProof(recordProof, new InclusionProof(index, treeSize, hashes(in, "path hash")));
  }

  private static Record record(CanonicalReader in) throws VerificationException {
    RecordHeader header = RecordHeader.parse(bytes(in, "record header"));
    Signature signature = flag(in, "signed") ? in.signature("record signature") : null;
    return Record.of(header, signature);
  }

  private static List<Hash> hashes(CanonicalReader in, String what) throws VerificationException {
    long n = in.u32(what + " count");
    // Each hash needs 32 bytes, so a hostile count fails on the first missing one, not on allocation.
    List<Hash> hashes = new ArrayList<>();
    for (long i = 0; i < n; i++) {
      hashes.add(in.hash(what + " " + i));
    }
    return hashes;
  }

  private static byte[] bytes(CanonicalReader in, String what) throws VerificationException {
    long length = in.u32(what + " length");
    if (length > Integer.MAX_VALUE) {
      throw malformed(what + " of " + length + " bytes");
    }
    return in.bytes((int) length, what);
  }

  private static boolean flag(CanonicalReader in, String what) throws VerificationException {
    int flag = in.u8(what + " flag");
    if (flag > 1) {
      throw malformed(what + " flag " + flag);
    }
    return flag == 1;
  }

  private static VerificationException malformed(String message) {
    return new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, message);
  }
}
