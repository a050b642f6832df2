package dev.capsulevm.renter.evidence;

import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.merkle.InclusionProof;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The canonical bytes of a {@link Claim} inside an evidence file (docs/FORMAT.md, "Evidence"). */
final class ClaimCodec {
  private ClaimCodec() {}

  /** Appends the claim's canonical bytes (docs/FORMAT.md, "Evidence"). */
  static void write(Claim claim, DataOutputStream out) throws IOException {
    byte[] receipt = claim.receipt().encode();
    out.writeInt(receipt.length);
    out.write(receipt);
    if (claim instanceof Claim.Entry e) {
      out.writeByte(2);
      out.writeInt(e.entry().length);
      out.write(e.entry());
      out.writeInt(e.inputs().length);
      out.write(e.inputs());
      out.writeLong(e.path().index());
      out.writeInt(e.path().path().size());
      for (Hash h : e.path().path()) {
        out.write(h.toByteArray());
      }
    } else {
      out.writeByte(1);
    }
  }

  /** Reads one claim from {@code in}. */
  static Claim read(CanonicalReader in) throws VerificationException, EvidenceException {
    SignedReceipt receipt = SignedReceipt.parse(lengthPrefixed(in, "receipt"));
    int what = in.u8("claim kind");
    if (what == 1) {
      return new Claim.CommittedHeads(receipt);
    }
    if (what != 2) {
      throw new EvidenceException("claim kind " + what + " is neither 1 (committed heads) nor 2 (transcript entry)");
    }
    byte[] entry = lengthPrefixed(in, "entry");
    byte[] inputs = lengthPrefixed(in, "inputs");
    long index = in.u64("leaf index");
    long m = in.u32("path length");
    if (m > 64) {
      throw new EvidenceException("an inclusion path of " + m + " hashes (at most 64)");
    }
    List<Hash> path = new ArrayList<>();
    for (long i = 0; i < m; i++) {
      path.add(in.hash("path hash"));
    }
    long outputs = receipt.receipt().outputCount();
    if (Long.compareUnsigned(index, outputs) >= 0) {
      throw new EvidenceException("leaf " + Long.toUnsignedString(index) + " of a transcript of " + outputs + " entries");
    }
    return new Claim.Entry(receipt, entry, inputs, new InclusionProof(index, outputs, path));
  }

  static byte[] lengthPrefixed(CanonicalReader in, String field) throws VerificationException {
    long length = in.u32(field + " length");
    if (length > Integer.MAX_VALUE) {
      throw new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, field + " of " + length + " bytes");
    }
    return in.bytes((int) length, field);
  }
}
