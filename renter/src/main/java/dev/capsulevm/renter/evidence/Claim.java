package dev.capsulevm.renter.evidence;

import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.Merkle;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What one host-signed receipt states about a record: either that the receipt's committed heads contain
 * it, or one entry of the receipt's transcript (an instruction, its inputs and the output the host sent),
 * proven to be in the receipt by an RFC 9162 inclusion path to its transcript root.
 */
public sealed interface Claim {
  /** The signed receipt the claim rests on. */
  SignedReceipt receipt();

  /** The claim's canonical bytes (docs/FORMAT.md, "Evidence"), as a renter keeps it beside a tracked head. */
  default byte[] encoded() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      ClaimCodec.write(this, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** Parses exactly one claim's canonical bytes; does not verify it. */
  static Claim parse(byte[] bytes) throws EvidenceException {
    CanonicalReader in = new CanonicalReader(bytes, "claim");
    try {
      Claim claim = ClaimCodec.read(in);
      in.end();
      return claim;
    } catch (VerificationException e) {
      throw new EvidenceException("the claim does not parse: " + e.getMessage(), e);
    }
  }

  /** The receipt's committed heads contain the record. */
  record CommittedHeads(SignedReceipt receipt) implements Claim {
    public CommittedHeads {
      Objects.requireNonNull(receipt, "receipt");
    }
  }

  /**
   * One transcript entry of the receipt.
   *
   * @param entry the entry's bytes (docs/FORMAT.md, "Transcript")
   * @param inputs the bytes the entry's instruction referenced, concatenated in the order of its refs
   * @param path the inclusion path of the entry's leaf in the receipt's transcript
   */
  @SuppressWarnings("ArrayRecordComponent") // compared by content below
  record Entry(SignedReceipt receipt, byte[] entry, byte[] inputs, InclusionProof path) implements Claim {
    public Entry {
      Objects.requireNonNull(receipt, "receipt");
      entry = entry.clone();
      inputs = inputs.clone();
      Objects.requireNonNull(path, "path");
    }

    /**
     * The claim of entry {@code index} of a transcript the renter computed itself for {@code receipt} (one
     * entry per output, in order), with its inclusion path.
     */
    public static Entry of(SignedReceipt receipt, List<byte[]> transcript, int index, byte[] inputs) {
      Transcript leaves = new Transcript();
      transcript.forEach(e -> leaves.add(Merkle.leafHash(e)));
      return new Entry(receipt, transcript.get(index), inputs, leaves.inclusionProof(index));
    }

    @Override
    public byte[] entry() {
      return entry.clone();
    }

    @Override
    public byte[] inputs() {
      return inputs.clone();
    }

    @Override
    public boolean equals(@Nullable Object o) {
      return o instanceof Entry e && receipt.equals(e.receipt) && Arrays.equals(entry, e.entry)
          && Arrays.equals(inputs, e.inputs) && path.equals(e.path);
    }

    @Override
    public int hashCode() {
      return Objects.hash(receipt, Arrays.hashCode(entry), Arrays.hashCode(inputs), path);
    }

    @Override
    public String toString() {
      return "Entry[receipt=" + receipt.receipt().programId() + ", entry=" + entry.length + " bytes, inputs="
          + inputs.length + " bytes, leaf " + path.index() + " of " + path.treeSize() + "]";
    }
  }
}
