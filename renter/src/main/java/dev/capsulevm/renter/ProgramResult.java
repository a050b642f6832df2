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
 */
public record ProgramResult(List<VerifiedOutput> outputs, Receipt receipt, CostBreakdown estimate,
    List<Hash> committedHeads, long bytesSent, long bytesReceived) {
  public ProgramResult {
    outputs = List.copyOf(outputs);
    committedHeads = List.copyOf(committedHeads);
  }

  /** The output of instruction {@code index}. */
  public VerifiedOutput output(int index) {
    return outputs.get(index);
  }
}
