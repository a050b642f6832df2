package dev.capsulevm.cli;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.MaxPrices;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.PriceTableRefusedException;
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

/**
 * Options every renter command shares: the host, the local state, the account key, JSON output, what a
 * program may cost. A flag not given falls back to the renter config ({@link RenterConfig}: an environment
 * variable, else the config file), then to the built-in default. Every receipt a client made here verifies
 * is kept in the state's {@code receipts.log} ({@link ReceiptLog}).
 */
final class RenterArgs {
  /** The host a command talks to when neither {@code --host}, the state nor the config names one. */
  static final String DEFAULT_HOST = "127.0.0.1:7420";

  @Option(names = "--host", paramLabel = "HOST:PORT",
      description = "The host to talk to (default: the first of the capsule's saved hosts that answers, else"
          + " $CAPSULEVM_HOST or the config's host, else " + DEFAULT_HOST + ").")
  @Nullable String host;

  @Option(names = "--state", paramLabel = "DIR",
      description = "The renter's local state (default: $CAPSULEVM_STATE or the config's state, else ~/.capsulevm/renter).")
  @Nullable Path state;

  @Option(names = "--account-key", paramLabel = "FILE",
      description = "The account key paying for programs (default: $CAPSULEVM_ACCOUNT_KEY or the config's account-key,"
          + " else account.pem in the state, made on first use).")
  @Nullable Path accountKey;

  @Mixin ClientTlsArgs tls;

  @Option(names = "--json", description = "Print one JSON object instead of readable text.")
  boolean json;

  @Option(names = "--budget", paramLabel = "CAP", converter = BudgetConverter.class,
      description = "The budget of each program (CAP, up to 6 decimals, e.g. 0.05) instead of its estimate: the host"
          + " may spend up to it, refunds the rest, and stops a program that needs more (which pays for what it"
          + " used). Default: $CAPSULEVM_BUDGET or the config's budget, else each program's estimate.")
  @Nullable Amount budget;

  @Option(names = "--max-cost", paramLabel = "CAP", converter = BudgetConverter.class,
      description = "A guard: refuse, before sending it, any program whose estimate is above CAP, and never give"
          + " a program a budget above CAP. Default: $CAPSULEVM_MAX_COST or the config's max-cost, else none.")
  @Nullable Amount maxCost;

  @Option(names = "--session", paramLabel = "CAP", converter = BudgetConverter.class,
      description = "Pay this command's programs from a payment session holding CAP (one signed request, then an"
          + " HMAC ticket per program instead of a signed withdrawal each; what the programs do not spend is"
          + " released when the command ends). Worth it for commands that run many programs (append --file,"
          + " read --all). Default: $CAPSULEVM_SESSION or the config's session, else a withdrawal per program.")
  @Nullable Amount session;

  RenterState state() {
    return new RenterState(state != null ? state : RenterState.defaultRoot());
  }

  /** {@code --budget}, else the config's, else null (each program's estimate). */
  @Nullable Amount budgetOrNull() {
    return budget != null ? budget : RenterConfig.current().budgetOrNull();
  }

  /** {@code --session}, else the config's, else null (a withdrawal per program). */
  @Nullable Amount sessionOrNull() {
    return session != null ? session : RenterConfig.current().sessionOrNull();
  }

  /** {@code --max-cost}, else the config's, else null (none). */
  @Nullable Amount maxCostOrNull() {
    return maxCost != null ? maxCost : RenterConfig.current().maxCostOrNull();
  }

  /**
   * A client of {@code --host} (over TLS as {@code --tls-ca}/{@code --tls-pin}/{@code --tls} say) paying
   * from the account key, writing the evidence of any rollback it
   * catches under the state's {@code evidence/}, and paying {@code --budget} per program when given.
   */
  HostClient connect() throws IOException {
    return connectTo(hostOrDefault());
  }

  /** {@code --host}, else the config's host, else {@value #DEFAULT_HOST}. */
  String hostOrDefault() {
    return host != null ? host : defaultHost();
  }

  /** The config's host ({@code CAPSULEVM_HOST}, the file's {@code host}), else {@value #DEFAULT_HOST}. */
  static String defaultHost() {
    String configured = RenterConfig.current().hostOrNull();
    return configured != null ? configured : DEFAULT_HOST;
  }

  /** A client of {@code address}, as {@link #connect()} makes them, its receipts logged under that address. */
  HostClient connectTo(String address) throws IOException {
    RenterState state = state();
    return HostClient.connect(address, state.accountKey(accountKey),
        options(state).withReceiptListener(state.receipts().listener(address)));
  }

  /**
   * The client options these flags and the config give: evidence in the state, TLS, the price ceilings
   * ({@code max-price.NAME}), the budget and the cap on one program's cost, every verified receipt kept in
   * the state (under an unknown host address; {@link #connectTo} names it).
   *
   * @throws IllegalArgumentException (a usage error) when the budget is above the cap
   */
  RenterOptions options(RenterState state) throws IOException {
    RenterOptions defaults = RenterOptions.defaults();
    RenterOptions options = defaults.withEvidenceDirectory(state.evidenceDir())
        .withSecurity(tls.security())
        .withMaxPrices(new MaxPrices(RenterConfig.current().maxPrices(defaults.maxPrices().max())))
        .withReceiptListener(state.receipts().listener(ReceiptLog.UNKNOWN_HOST));
    Amount fixed = budgetOrNull();
    Amount max = maxCostOrNull();
    if (fixed != null && max != null && fixed.exceeds(max)) {
      throw new IllegalArgumentException("the budget, " + fixed + ", is above the most one program may cost (max-cost), "
          + max + ": lower the budget or raise the cap");
    }
    if (fixed != null) {
      options = options.withBudget(fixed);
    }
    Amount sessionAmount = sessionOrNull();
    if (sessionAmount != null) {
      options = options.withSession(sessionAmount);
    }
    return max != null ? options.withMaxCost(max) : options;
  }

  /**
   * A client for capsule {@code id}: of {@code --host} when given; else of the first of the hosts the
   * state saved for the capsule (at create, or from an access string) that answers, a host that does not
   * being named on standard error; else of the config's host, else of {@value #DEFAULT_HOST}.
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
        failures.add(address + (e instanceof PriceTableRefusedException
            ? " asks more than this renter pays, its max-price ceilings (" : " did not answer (") + e.getMessage() + ")");
      }
    }
    throw new RenterException("no saved host of capsule " + id.toHex() + " could be used: " + String.join("; ", failures));
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
    return spent(result) + "; sent " + result.bytesSent() + " B, received " + result.bytesReceived()
        + " B; receipt verified";
  }

  /**
   * What a program cost out of what it was given: {@code cost X CAP of a Y CAP budget (its estimate), Z CAP
   * refunded}; a budget that is not the estimate (from {@code --budget}, or capped by {@code --max-cost})
   * names the estimate beside it.
   */
  static String spent(ProgramResult result) {
    Receipt r = result.receipt();
    Amount estimate = result.estimate().total();
    String budget = r.budget().equals(estimate) ? " budget (its estimate)" : " budget (estimate " + estimate + ")";
    return "cost " + r.finalCost() + " of a " + r.budget() + budget + ", " + r.refund() + " refunded";
  }
}
