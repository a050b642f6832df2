package dev.capsulevm.renter;

import dev.capsulevm.pricing.CostBreakdown;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.proofs.Hash;
import java.util.List;

/**
 * A program that ran to its end with everything verified: every output, the commit (for a write) and
 * the host-signed receipt, which equals the renter's own recomputation to the unit.
 *
 * @param estimate the renter's estimate before sending (an upper bound on the final cost)
 * @param committedHeads the capsule's heads after a committed write (empty for a read-only program)
 * @param verification the time spent verifying, read once the program ended
 */
public record ProgramResult(List<VerifiedOutput> outputs, Receipt receipt, CostBreakdown estimate,
    List<Hash> committedHeads, long bytesSent, long bytesReceived, java.util.function.LongSupplier verification) {
  public ProgramResult {
    outputs = List.copyOf(outputs);
    committedHeads = List.copyOf(committedHeads);
  }

  /** Time the renter spent parsing and verifying the host's messages (outputs, proposal, receipt), in ns. */
  public long verificationNanos() {
    return verification.getAsLong();
  }

  /** The output of instruction {@code index}. */
  public VerifiedOutput output(int index) {
    return outputs.get(index);
  }
}
