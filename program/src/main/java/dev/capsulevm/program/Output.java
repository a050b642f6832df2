package dev.capsulevm.program;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** The result of one instruction, one record per instruction kind. */
public sealed interface Output {
  /** {@code CreateCapsule}: the id of the capsule staged for creation. */
  record CapsuleCreated(Hash capsuleId) implements Output {
    public CapsuleCreated {
      Objects.requireNonNull(capsuleId, "capsuleId");
    }
  }

  /** {@code AppendRecord}: the capsule's heads, sorted, as they will be if the program commits. */
  record Appended(List<Hash> proposedHeads) implements Output {
    public Appended {
      proposedHeads = List.copyOf(proposedHeads);
    }
  }

  /**
   * {@code ReadSubRecord}: the payload and its proof to the anchor. Equal when the payloads' bytes are,
   * like the other outputs.
   */
  @SuppressWarnings("ArrayRecordComponent") // equals, hashCode and toString compare the payload's bytes
  record SubRecord(byte[] payload, SubRecordProof proof) implements Output {
    public SubRecord {
      Objects.requireNonNull(payload, "payload");
      Objects.requireNonNull(proof, "proof");
    }

    /** A copy of the payload. */
    @Override
    public byte[] payload() {
      return payload.clone();
    }

    @Override
    public boolean equals(@Nullable Object o) {
      return o instanceof SubRecord other && Arrays.equals(payload, other.payload) && proof.equals(other.proof);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(payload) + proof.hashCode();
    }

    @Override
    public String toString() {
      return "SubRecord[payload=" + payload.length + " bytes, proof=" + proof + "]";
    }
  }

  /**
   * {@code ReadSubRecord} of a sub-record whose payload the host dropped under the capsule's retention
   * policy (docs/PROTOCOL.md, "Retention"): the sub-record's leaf hash ({@code H(0x00 || payload)}) with
   * its proof to the anchor, and the proof, from the same anchor, of the witness: a record of the capsule
   * whose writer entry carries the policy that lets the payload go, and whose height or timestamp does.
   */
  record SubRecordDropped(Hash leafHash, SubRecordProof proof, RecordProof witnessProof) implements Output {
    public SubRecordDropped {
      Objects.requireNonNull(leafHash, "leafHash");
      Objects.requireNonNull(proof, "proof");
      Objects.requireNonNull(witnessProof, "witnessProof");
    }
  }

  /** {@code Prove}: exactly one of the two proofs is non-null. */
  record Proof(@Nullable RecordProof recordProofOrNull, @Nullable SubRecordProof subRecordProofOrNull)
      implements Output {
    public Proof {
      if ((recordProofOrNull == null) == (subRecordProofOrNull == null)) {
        throw new IllegalArgumentException("exactly one proof");
      }
    }
  }

  /** {@code HasRecord}: whether the host holds the record, and its header when it does. */
  record Has(boolean held, @Nullable RecordHeader headerOrNull) implements Output {
    public Has {
      if (held != (headerOrNull != null)) {
        throw new IllegalArgumentException("a header exactly when held");
      }
    }
  }

  /** {@code ReadByHash}: the record (header and signature) or null, and its sub-record count (0 when absent). */
  record ByHash(@Nullable Record recordOrNull, long subRecordCount) implements Output {}

  /**
   * {@code Metadata}: the capsule's signed metadata, already checked against its creator's signature;
   * the reader checks that it hashes to the capsule id it asked about.
   */
  record Metadata(SignedMetadata signedMetadata) implements Output {
    public Metadata {
      Objects.requireNonNull(signedMetadata, "signedMetadata");
    }
  }

  /** {@code Heads}: the capsule's head records, sorted by hash. */
  record Heads(List<Record> heads) implements Output {
    public Heads {
      heads = List.copyOf(heads);
    }
  }
}
