package dev.capsulevm.proofs.integrity;

import dev.capsulevm.proofs.merkle.InclusionProof;
import java.util.Objects;

/** A sub-record proof: the record proof, then the sub-record's RFC 9162 inclusion path to the record's root. */
public record SubRecordProof(RecordProof recordProof, InclusionProof inclusion) {
  public SubRecordProof {
    Objects.requireNonNull(recordProof, "recordProof");
    Objects.requireNonNull(inclusion, "inclusion");
  }
}
