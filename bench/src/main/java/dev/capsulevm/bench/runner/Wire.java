package dev.capsulevm.bench.runner;

import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import java.util.Objects;

/**
 * Proofs as the renter receives them: encoded by the host and parsed back, so that verification pays for
 * parsing and hashing every header, as it does across a network (a header object built in-process
 * already knows its hash).
 */
final class Wire {
  private static final DataRef ANCHOR = new DataRef(0, 32);

  private Wire() {}

  static byte[] encode(RecordProof proof) {
    return OutputEncoding.encode(new Output.Proof(proof, null));
  }

  static byte[] encode(SubRecordProof proof) {
    return OutputEncoding.encode(new Output.Proof(null, proof));
  }

  static RecordProof parseRecordProof(byte[] bytes) throws Exception {
    Output.Proof proof = (Output.Proof) OutputEncoding.decode(
        Instruction.Prove.record(ANCHOR, new RecordSelector.ByHeight(1)), bytes);
    return Objects.requireNonNull(proof.recordProofOrNull());
  }

  static SubRecordProof parseSubRecordProof(byte[] bytes, long index) throws Exception {
    Output.Proof proof = (Output.Proof) OutputEncoding.decode(
        new Instruction.Prove(ANCHOR, new RecordSelector.ByHeight(1), index), bytes);
    return Objects.requireNonNull(proof.subRecordProofOrNull());
  }

  /** The canonical bytes of a proof's headers: its size, framing aside. */
  static long headerBytes(RecordProof proof) {
    long total = 0;
    for (RecordHeader header : proof.headers()) {
      total += header.encodedLength();
    }
    return total;
  }
}
