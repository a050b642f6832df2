package dev.capsulevm.cli;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.MaxPrices;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.RenterOptions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code capsulevm host prices show|set}: a host's signed price table, read from its public port
 * ({@code GetPriceTable}) and checked against the renter's ceilings, or replaced by the operator
 * ({@code Admin.SetPrices}, with the admin token). {@link Main} hangs it under {@code host}, like
 * {@link HostStatusCommand}. Names: {@link PriceFields}.
 */
@Command(name = "prices", mixinStandardHelpOptions = true,
    description = "A host's price table: show it (anyone, from the Host port), or set prices and limits (the"
        + " operator, through the Admin service).",
    subcommands = {HostPricesCommand.Show.class, HostPricesCommand.Set.class})
final class HostPricesCommand {
  @Command(name = "show", mixinStandardHelpOptions = true,
      description = "Fetch the host's current price table (its signature and window checked) and show every price"
          + " (units; 1 CAP = 1000000 units) and limit, marking any price above this renter's max-price ceilings.")
  static final class Show implements Callable<Integer> {
    @Option(names = "--host", paramLabel = "HOST:PORT",
        description = "The host (default: $CAPSULEVM_HOST or the config's host, else " + RenterArgs.DEFAULT_HOST + ").")
    @Nullable String host;

    @Mixin ClientTlsArgs tls;

    @Option(names = "--json", description = "Print one JSON object instead of readable text.")
    boolean json;

    @Override
    public Integer call() {
      return CapsuleCommand.guarded(() -> {
        String address = host != null ? host : RenterArgs.defaultHost();
        RenterOptions defaults = RenterOptions.defaults();
        Prices ceilings = RenterConfig.current().maxPrices(defaults.maxPrices().max());
        // Shown whatever it asks: the ceilings are compared below, not enforced; the table pays for nothing,
        // so a throwaway key stands in for the account.
        RenterOptions options = defaults.withSecurity(tls.security()).withMaxPrices(new MaxPrices(unbounded()));
        try (HostClient client = HostClient.connect(address, SigningKey.generate(), options)) {
          PriceTable table = client.priceTable();
          List<String> above = PriceFields.above(table.prices(), ceilings);
          if (json) {
            System.out.println(PriceFields.json(table).put("host", address)
                .put("acceptable", above.isEmpty()).put("aboveCeilings", new ArrayList<Object>(above)));
          } else {
            PriceFields.lines(table, ceilings).forEach(System.out::println);
            System.out.println(above.isEmpty()
                ? "verdict  this renter accepts these prices (each at most its max-price ceiling)"
                : "verdict  this renter refuses this table: " + String.join(", ", above) + " above its ceilings"
                    + " (max-price.NAME in the renter config)");
          }
          return 0;
        }
      });
    }

    /** Ceilings no price reaches. */
    static Prices unbounded() {
      Map<String, Amount> all = new LinkedHashMap<>();
      PriceFields.PRICES.forEach(name -> all.put(name, Amount.MAX));
      return PriceFields.withPrices(RenterOptions.defaultMaxPrices().max(), all);
    }
  }

  @Command(name = "set", mixinStandardHelpOptions = true,
      description = "Replace some of the host's prices or limits (Admin.SetPrices, with the admin token): the host"
          + " signs and publishes a new table at once, keeps it across restarts, and still accepts the old one"
          + " until it expires. Prices in units (1 CAP = 1000000 units).")
  static final class Set implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin AdminArgs adminArgs;
    @Mixin ClientTlsArgs tls;

    @Parameters(arity = "1..*", paramLabel = "NAME=VALUE",
        description = "A price (e.g. read-sub-record-base=600, download-per-byte=3) or a limit"
            + " (e.g. max-program-bytes=33554432); 'host prices show' lists the names.")
    List<String> changes = new ArrayList<>();

    @Option(names = "--json", description = "Print one JSON object instead of readable text.")
    boolean json;

    @Override
    public Integer call() {
      Map<String, Amount> prices = new LinkedHashMap<>();
      Map<String, Long> limits = new LinkedHashMap<>();
      for (String change : changes) {
        int eq = change.indexOf('=');
        if (eq < 1) {
          throw Args.usage(spec, "'" + change + "' is not NAME=VALUE");
        }
        String name = change.substring(0, eq).strip();
        long value;
        try {
          value = Long.parseLong(change.substring(eq + 1).strip());
        } catch (NumberFormatException e) {
          throw Args.usage(spec, name + ": not a whole number: '" + change.substring(eq + 1) + "'");
        }
        if (PriceFields.isPrice(name)) {
          prices.put(name, Amount.of(Args.nonNegative(spec, name, value)));
        } else if (PriceFields.LIMITS.contains(name)) {
          limits.put(name, value);
        } else {
          throw Args.usage(spec, "no price or limit is called '" + name + "'; prices: "
              + String.join(", ", PriceFields.PRICES) + "; limits: " + String.join(", ", PriceFields.LIMITS));
        }
      }
      return CapsuleCommand.guarded(() -> {
        String secret = adminArgs.token();
        try (AdminClient admin = adminArgs.connect(secret, tls)) {
          PriceTable current = AdminClient.priceTable(admin.status());
          Prices newPrices;
          Limits newLimits;
          try {
            newPrices = PriceFields.withPrices(current.prices(), prices);
            newLimits = PriceFields.withLimits(current.limits(), limits);
          } catch (IllegalArgumentException e) {
            throw Args.usage(spec, String.valueOf(e.getMessage()));
          }
          PriceTable published = admin.setPrices(new PriceTable(current.hostKey(), current.validFrom(),
              current.validUntil(), newPrices, newLimits));
          Map<String, Object> changed = new LinkedHashMap<>();
          List<String> lines = new ArrayList<>();
          Map<String, Amount> before = PriceFields.prices(current.prices());
          Map<String, Amount> after = PriceFields.prices(published.prices());
          for (String name : prices.keySet()) {
            changed.put(name, after.get(name) == null ? null : after.get(name).units());
            lines.add("price    " + name + " " + units(before.get(name)) + " -> " + units(after.get(name)) + " units");
          }
          Map<String, Long> limitsBefore = PriceFields.limits(current.limits());
          Map<String, Long> limitsAfter = PriceFields.limits(published.limits());
          for (String name : limits.keySet()) {
            changed.put(name, limitsAfter.get(name));
            lines.add("limit    " + name + " " + limitsBefore.get(name) + " -> " + limitsAfter.get(name));
          }
          if (json) {
            System.out.println(new Json().put("previous", current.id().toHex()).put("changed", changed)
                .put("table", PriceFields.json(published)));
          } else {
            System.out.println("table    " + published.id().toHex() + ", signed by the host and published now"
                + " (valid until " + published.validUntil() + "); the previous one, " + current.id().toHex().substring(0, 16)
                + "..., is accepted until it expires");
            lines.forEach(System.out::println);
          }
          return 0;
        }
      });
    }

    private static String units(@Nullable Amount amount) {
      return amount == null ? "?" : String.valueOf(amount.units());
    }
  }
}
