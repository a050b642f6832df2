package dev.capsulevm.cli;

import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RenterOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/** Options every renter command shares: the host, the local state, the account key, JSON output. */
final class RenterArgs {
  @Option(names = "--host", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:7420",
      description = "The host to talk to (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--state", paramLabel = "DIR",
      description = "The renter's local state (default: $CAPSULEVM_RENTER_STATE or ~/.capsulevm/renter).")
  @Nullable Path state;

  @Option(names = "--account-key", paramLabel = "FILE",
      description = "The account key paying for programs (default: account.pem in the state, made on first use).")
  @Nullable Path accountKey;

  @Option(names = "--json", description = "Print one JSON object instead of readable text.")
  boolean json;

  RenterState state() {
    return new RenterState(state != null ? state : RenterState.defaultRoot());
  }

  HostClient connect() throws IOException {
    return HostClient.connect(host, state().accountKey(accountKey), RenterOptions.defaults());
  }

  /** The result of the program {@code writer} has just run (a create, an append, a merge or a heads refresh). */
  static ProgramResult lastResult(CapsuleWriter writer) {
    return Objects.requireNonNull(writer.lastResult(), "the writer has run no program");
  }

  /** The cost part of a result, for JSON. */
  static Json cost(ProgramResult result) {
    Receipt r = result.receipt();
    return new Json()
        .put("estimateUnits", result.estimate().total().units())
        .put("budgetUnits", r.budget().units())
        .put("costUnits", r.finalCost().units())
        .put("refundUnits", r.refund().units())
        .put("instructionUnits", r.cost().instruction().units())
        .put("bandwidthUnits", r.cost().bandwidth().units())
        .put("memoryUnits", r.cost().memory().units())
        .put("storageUnits", r.cost().storage().units())
        .put("bytesSent", result.bytesSent())
        .put("bytesReceived", result.bytesReceived());
  }

  /** The cost part of a result, readable. */
  static String costLine(ProgramResult result) {
    Receipt r = result.receipt();
    return "cost " + r.finalCost() + " (estimate " + result.estimate().total() + ", refund " + r.refund()
        + "; sent " + result.bytesSent() + " B, received " + result.bytesReceived() + " B; receipt verified)";
  }
}
