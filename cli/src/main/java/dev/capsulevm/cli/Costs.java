package dev.capsulevm.cli;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.renter.ProgramResult;

/**
 * The costs of a command that runs many programs (a streamed append or read, a follow), summed from each
 * program's verified receipt as it ends; nothing of the programs is held. The JSON has the keys of
 * {@link RenterArgs#cost}, summed, and {@code programs}.
 */
final class Costs {
  private long programs;
  private long estimate;
  private long budget;
  private long cost;
  private long refund;
  private long instruction;
  private long bandwidth;
  private long memory;
  private long storage;
  private long sent;
  private long received;

  void add(ProgramResult result) {
    Receipt r = result.receipt();
    programs++;
    estimate += result.estimate().total().units();
    budget += r.budget().units();
    cost += r.finalCost().units();
    refund += r.refund().units();
    instruction += r.cost().instruction().units();
    bandwidth += r.cost().bandwidth().units();
    memory += r.cost().memory().units();
    storage += r.cost().storage().units();
    sent += result.bytesSent();
    received += result.bytesReceived();
  }

  long programs() {
    return programs;
  }

  Json json() {
    return new Json().put("programs", programs).put("estimateUnits", estimate).put("budgetUnits", budget)
        .put("costUnits", cost).put("refundUnits", refund).put("instructionUnits", instruction)
        .put("bandwidthUnits", bandwidth).put("memoryUnits", memory).put("storageUnits", storage)
        .put("bytesSent", sent).put("bytesReceived", received);
  }

  /** Readable, as {@link RenterArgs#costLine} is for one program. */
  String line() {
    return "cost " + Amount.of(cost) + " over " + programs + " program(s) (estimate " + Amount.of(estimate)
        + ", refund " + Amount.of(refund) + "; sent " + sent + " B, received " + received
        + " B; every receipt verified)";
  }
}
