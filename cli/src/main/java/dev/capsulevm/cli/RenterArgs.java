package dev.capsulevm.cli;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RenterException;
import dev.capsulevm.renter.RenterOptions;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Options every renter command shares: the host, the local state, the account key, JSON output. */
final class RenterArgs {
  /** The host a command talks to when neither {@code --host} nor the state names one. */
  static final String DEFAULT_HOST = "127.0.0.1:7420";

  @Option(names = "--host", paramLabel = "HOST:PORT",
      description = "The host to talk to (default: the first of the capsule's saved hosts that answers, else "
          + DEFAULT_HOST + ").")
  @Nullable String host;

  @Option(names = "--state", paramLabel = "DIR",
      description = "The renter's local state (default: $CAPSULEVM_RENTER_STATE or ~/.capsulevm/renter).")
  @Nullable Path state;

  @Option(names = "--account-key", paramLabel = "FILE",
      description = "The account key paying for programs (default: account.pem in the state, made on first use).")
  @Nullable Path accountKey;

  @Mixin ClientTlsArgs tls;

  @Option(names = "--json", description = "Print one JSON object instead of readable text.")
  boolean json;

  @Option(names = "--budget", paramLabel = "CAP", converter = BudgetConverter.class,
      description = "Pay at most this much per program (CAP, up to 6 decimals, e.g. 0.05) instead of its estimate.")
  @Nullable Amount budget;

  RenterState state() {
    return new RenterState(state != null ? state : RenterState.defaultRoot());
  }

  /**
   * A client of {@code --host} (over TLS as {@code --tls-ca}/{@code --tls-pin}/{@code --tls} say) paying
   * from the account key, writing the evidence of any rollback it
   * catches under the state's {@code evidence/}, and paying {@code --budget} per program when given.
   */
  HostClient connect() throws IOException {
    return connectTo(hostOrDefault());
  }

  /** {@code --host}, else {@value #DEFAULT_HOST}. */
  String hostOrDefault() {
    return host != null ? host : DEFAULT_HOST;
  }

  /** A client of {@code address}, as {@link #connect()} makes them. */
  HostClient connectTo(String address) throws IOException {
    RenterState state = state();
    return HostClient.connect(address, state.accountKey(accountKey), options(state));
  }

  RenterOptions options(RenterState state) throws IOException {
    RenterOptions options = RenterOptions.defaults().withEvidenceDirectory(state.evidenceDir())
        .withSecurity(tls.security());
    return budget != null ? options.withBudget(budget) : options;
  }

  /**
   * A client for capsule {@code id}: of {@code --host} when given; else of the first of the hosts the
   * state saved for the capsule (at create, or from an access string) that answers, a host that does not
   * being named on standard error; else of {@value #DEFAULT_HOST}.
   *
   * @throws RenterException naming each saved host's failure when none answers
   */
  HostClient connect(Hash id) throws IOException, RenterException {
    List<String> saved = host == null ? state().hosts(id) : List.of();
    if (saved.isEmpty()) {
      return connect();
    }
    List<String> failures = new ArrayList<>();
    for (String address : saved) {
      HostClient client = connectTo(address);
      try {
        // The price table is what any program asks for first, and the client keeps it: the probe is free.
        client.priceTable();
        if (!failures.isEmpty()) {
          System.err.println("capsulevm: using " + address + "; " + String.join("; ", failures));
        }
        return client;
      } catch (RenterException e) {
        client.close();
        failures.add(address + " did not answer (" + e.getMessage() + ")");
      }
    }
    throw new RenterException("no saved host of capsule " + id.toHex() + " answered: " + String.join("; ", failures));
  }

  /** {@code --budget}: CAP as a decimal of at most 6 places (1 CAP = 1,000,000 units), above 0. */
  static final class BudgetConverter implements CommandLine.ITypeConverter<Amount> {
    @Override
    public Amount convert(String text) {
      BigDecimal units;
      try {
        units = new BigDecimal(text.strip()).movePointRight(6);
      } catch (NumberFormatException e) {
        throw new CommandLine.TypeConversionException("'" + text + "' is not an amount of CAP (e.g. 0.05)");
      }
      if (units.signum() <= 0 || units.stripTrailingZeros().scale() > 0
          || units.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
        throw new CommandLine.TypeConversionException(
            "'" + text + "' is not a positive amount of CAP with at most 6 decimals");
      }
      return Amount.of(units.longValueExact());
    }
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
