package dev.capsulevm.renter;

import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.program.Transcript;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * A program that ran to its end with everything verified: every output, the commit (for a write) and
 * the receipt, which equals the renter's own recomputation to the unit and covers the renter's transcript
 * of the outputs, signed by the host or, for a read paid from a payment session, sealed with the session's
 * key ({@link #signedReceipt}). A signed receipt with one transcript entry and its inputs is what an
 * evidence file holds of a host's answer.
 */
public final class ProgramResult {
  private final PreparedProgram program;
  private final List<VerifiedOutput> outputs;
  private final Receipt receipt;
  private final @Nullable SignedReceipt signedReceiptOrNull;
  /** The leaf of each output's transcript entry, in order: what the receipt's transcript root is over. */
  private final List<Hash> transcriptLeaves;
  private final CostBreakdown estimate;
  private final List<Hash> committedHeads;
  private final long bytesSent;
  private final long bytesReceived;
  private final LongSupplier verification;

  ProgramResult(PreparedProgram program, List<VerifiedOutput> outputs, Receipt receipt,
      @Nullable SignedReceipt signedReceiptOrNull, List<Hash> transcriptLeaves, CostBreakdown estimate, List<Hash> committedHeads, long bytesSent,
      long bytesReceived, LongSupplier verification) {
    this.program = Objects.requireNonNull(program, "program");
    this.outputs = List.copyOf(outputs);
    this.receipt = Objects.requireNonNull(receipt, "receipt");
    this.signedReceiptOrNull = signedReceiptOrNull;
    this.transcriptLeaves = List.copyOf(transcriptLeaves);
    this.estimate = Objects.requireNonNull(estimate, "estimate");
    this.committedHeads = List.copyOf(committedHeads);
    this.bytesSent = bytesSent;
    this.bytesReceived = bytesReceived;
    this.verification = Objects.requireNonNull(verification, "verification");
  }

  /** The program that ran, as it was sent. */
  public PreparedProgram program() {
    return program;
  }

  /** Every output, verified, in instruction order. */
  public List<VerifiedOutput> outputs() {
    return outputs;
  }

  /** The output of instruction {@code index}. */
  public VerifiedOutput output(int index) {
    return outputs.get(index);
  }

  /** The verified receipt. */
  public Receipt receipt() {
    return receipt;
  }

  /** Whether the host signed the receipt (else it sealed it with the payment session's key). */
  public boolean isReceiptSigned() {
    return signedReceiptOrNull != null;
  }

  /**
   * The verified receipt with the host's signature: what a third party can check.
   *
   * @throws IllegalStateException the receipt was sealed with the payment session's key ({@link
   *     #isReceiptSigned}): a renter asks for that only for programs whose receipts are never evidence
   */
  public SignedReceipt signedReceipt() {
    SignedReceipt signed = signedReceiptOrNull;
    if (signed == null) {
      throw new IllegalStateException("program " + receipt.programId() + " has a receipt sealed with its payment"
          + " session's key, which the renter verified but no third party can (docs/PROTOCOL.md, \"Sealed receipts\")");
    }
    return signed;
  }

  /**
   * The renter's transcript entry of each output, in order (docs/FORMAT.md, "Transcript"): the receipt's
   * transcript root is the RFC 9162 root over them. Made from the program and the outputs on each call.
   */
  public List<byte[]> transcriptEntries() {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < outputs.size(); i++) {
      out.add(transcriptEntry(i));
    }
    return out;
  }

  /** The renter's transcript entry of output {@code outputIndex} (docs/FORMAT.md, "Transcript"). */
  public byte[] transcriptEntry(int outputIndex) {
    VerifiedOutput out = outputs.get(outputIndex);
    return Transcript.entry(out.index(), out.instruction(), program.inputs(out.index()), out.outputBytes());
  }

  /** The RFC 9162 inclusion proof of output {@code outputIndex}'s entry in the receipt's transcript. */
  public InclusionProof transcriptInclusion(int outputIndex) {
    Objects.checkIndex(outputIndex, transcriptLeaves.size());
    return MerkleTree.ofLeafHashes(transcriptLeaves).inclusionProof(outputIndex);
  }

  /**
   * The bytes the references of instruction {@code outputIndex} point at, concatenated in the order its
   * encoding lists them: what hashes to the inputs digest of its transcript entry.
   */
  public byte[] inputsOf(int outputIndex) {
    Objects.checkIndex(outputIndex, outputs.size());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    program.inputs(outputIndex).forEach(out::writeBytes);
    return out.toByteArray();
  }

  /** The renter's estimate before sending: its budget unless the caller gave one. */
  public CostBreakdown estimate() {
    return estimate;
  }

  /** The capsule's heads after a committed write (empty for a read-only program). */
  public List<Hash> committedHeads() {
    return committedHeads;
  }

  /** The serialized size of every request message the renter sent. */
  public long bytesSent() {
    return bytesSent;
  }

  /** The serialized size of every output's response message the renter received. */
  public long bytesReceived() {
    return bytesReceived;
  }

  /** Time the renter spent parsing and verifying the host's messages (outputs, proposal, receipt), in ns. */
  public long verificationNanos() {
    return verification.getAsLong();
  }

  @Override
  public String toString() {
    return "ProgramResult[" + outputs.size() + " outputs, " + receipt() + "]";
  }
}
