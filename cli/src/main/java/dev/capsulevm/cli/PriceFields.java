package dev.capsulevm.cli;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The names the command line gives each price and limit of a price table, in table order: the renter
 * config's {@code max-price.NAME} keys, {@code host prices show} and {@code host prices set NAME=VALUE}.
 * Prices are in units (1 CAP = 1,000,000 units): {@code program-base}, {@code program-per-byte}, per
 * instruction kind {@code KIND-base} and {@code KIND-per-byte} (e.g. {@code read-sub-record-base}),
 * {@code upload-per-byte}, {@code download-per-byte}, {@code memory-per-byte-time-unit},
 * {@code storage-per-byte-duration-unit}. Limits: {@code max-program-bytes}, {@code max-instructions},
 * {@code max-record-bytes}, {@code max-sub-records-per-record}, {@code max-concurrent-programs},
 * {@code max-balance-units}.
 */
final class PriceFields {
  /** The limits' names, in table order. */
  static final List<String> LIMITS = List.of("max-program-bytes", "max-instructions", "max-record-bytes",
      "max-sub-records-per-record", "max-concurrent-programs", "max-balance-units");

  /** The prices' names, in table order. */
  static final List<String> PRICES = priceNames();

  private PriceFields() {}

  private static List<String> priceNames() {
    List<String> out = new ArrayList<>(List.of("program-base", "program-per-byte"));
    for (InstructionKind kind : InstructionKind.values()) {
      out.add(kindName(kind) + "-base");
      out.add(kindName(kind) + "-per-byte");
    }
    out.addAll(List.of("upload-per-byte", "download-per-byte", "memory-per-byte-time-unit",
        "storage-per-byte-duration-unit"));
    return List.copyOf(out);
  }

  /** An instruction kind's name: {@code READ_SUB_RECORD} is {@code read-sub-record}. */
  static String kindName(InstructionKind kind) {
    return kind.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Every price of {@code prices} by name, in table order. */
  static Map<String, Amount> prices(Prices prices) {
    Map<String, Amount> out = new LinkedHashMap<>();
    out.put("program-base", prices.programBase());
    out.put("program-per-byte", prices.programPerByte());
    for (InstructionKind kind : InstructionKind.values()) {
      out.put(kindName(kind) + "-base", prices.instruction(kind).base());
      out.put(kindName(kind) + "-per-byte", prices.instruction(kind).perByte());
    }
    out.put("upload-per-byte", prices.uploadPerByte());
    out.put("download-per-byte", prices.downloadPerByte());
    out.put("memory-per-byte-time-unit", prices.memoryPerByteTimeUnit());
    out.put("storage-per-byte-duration-unit", prices.storagePerByteDurationUnit());
    return out;
  }

  /** Every limit of {@code limits} by name ({@link #LIMITS}). */
  static Map<String, Long> limits(Limits limits) {
    Map<String, Long> out = new LinkedHashMap<>();
    out.put("max-program-bytes", (long) limits.maxProgramBytes());
    out.put("max-instructions", (long) limits.maxInstructions());
    out.put("max-record-bytes", (long) limits.maxRecordBytes());
    out.put("max-sub-records-per-record", (long) limits.maxSubRecordsPerRecord());
    out.put("max-concurrent-programs", (long) limits.maxConcurrentPrograms());
    out.put("max-balance-units", limits.maxBalance().units());
    return out;
  }

  /** Whether {@code name} names a price. */
  static boolean isPrice(String name) {
    return PRICES.contains(name);
  }

  /** {@code prices} with the named prices replaced; an unknown name is an {@link IllegalArgumentException}. */
  static Prices withPrices(Prices prices, Map<String, Amount> changes) {
    Map<String, Amount> all = prices(prices);
    for (Map.Entry<String, Amount> change : changes.entrySet()) {
      if (!all.containsKey(change.getKey())) {
        throw new IllegalArgumentException("no price is called '" + change.getKey() + "'; prices are "
            + String.join(", ", all.keySet()));
      }
      all.put(change.getKey(), change.getValue());
    }
    Map<InstructionKind, InstructionPrice> instructions = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      instructions.put(kind, new InstructionPrice(get(all, kindName(kind) + "-base"),
          get(all, kindName(kind) + "-per-byte")));
    }
    return new Prices(get(all, "program-base"), get(all, "program-per-byte"), instructions,
        get(all, "upload-per-byte"), get(all, "download-per-byte"), get(all, "memory-per-byte-time-unit"),
        get(all, "storage-per-byte-duration-unit"));
  }

  /** {@code limits} with the named limits replaced; an unknown name or a bad value is an {@link IllegalArgumentException}. */
  static Limits withLimits(Limits limits, Map<String, Long> changes) {
    Map<String, Long> all = limits(limits);
    for (Map.Entry<String, Long> change : changes.entrySet()) {
      if (!all.containsKey(change.getKey())) {
        throw new IllegalArgumentException("no limit is called '" + change.getKey() + "'; limits are "
            + String.join(", ", LIMITS));
      }
      long value = change.getValue();
      if (!change.getKey().equals("max-balance-units") && (value < 1 || value > Integer.MAX_VALUE)) {
        throw new IllegalArgumentException(change.getKey() + " must be 1 to " + Integer.MAX_VALUE + ", got " + value);
      }
      all.put(change.getKey(), value);
    }
    return new Limits(Math.toIntExact(limit(all, "max-program-bytes")), Math.toIntExact(limit(all, "max-instructions")),
        Math.toIntExact(limit(all, "max-record-bytes")), Math.toIntExact(limit(all, "max-sub-records-per-record")),
        Math.toIntExact(limit(all, "max-concurrent-programs")), Amount.of(limit(all, "max-balance-units")));
  }

  private static long limit(Map<String, Long> all, String name) {
    Long value = all.get(name);
    if (value == null) {
      throw new IllegalStateException("no limit " + name);
    }
    return value;
  }

  private static Amount get(Map<String, Amount> all, String name) {
    Amount amount = all.get(name);
    if (amount == null) {
      throw new IllegalStateException("no price " + name);
    }
    return amount;
  }

  /**
   * The table as readable lines: its id and window, then one line per price (units, and CAP) and per limit;
   * a price above {@code ceilingsOrNull} (the renter's maximum prices) is marked, since this renter refuses
   * a table asking more for any of them.
   */
  static List<String> lines(PriceTable table, @Nullable Prices ceilingsOrNull) {
    List<String> out = new ArrayList<>();
    out.add("table    " + table.id().toHex());
    out.add("         signed by host " + table.hostKey().toHex() + ", valid " + table.validFrom() + " to "
        + table.validUntil());
    Map<String, Amount> ceilings = ceilingsOrNull == null ? Map.of() : prices(ceilingsOrNull);
    for (Map.Entry<String, Amount> price : prices(table.prices()).entrySet()) {
      Amount ceiling = ceilings.get(price.getKey());
      String mark = ceiling != null && price.getValue().exceeds(ceiling)
          ? "  ABOVE this renter's max-price." + price.getKey() + " (" + ceiling.units() + ")" : "";
      out.add(String.format(Locale.ROOT, "price    %-32s %10d units%s", price.getKey(), price.getValue().units(), mark));
    }
    for (Map.Entry<String, Long> limit : limits(table.limits()).entrySet()) {
      out.add(String.format(Locale.ROOT, "limit    %-32s %10d", limit.getKey(), limit.getValue()));
    }
    return out;
  }

  /**
   * The table in three lines, for {@code host status}: its id and window, the prices in units (program and
   * each instruction as base + per byte), and the limits; {@code host prices show} has one line per value.
   */
  static List<String> summary(PriceTable table) {
    Prices p = table.prices();
    StringBuilder prices = new StringBuilder("         program " + p.programBase().units() + " + "
        + p.programPerByte().units() + "/B");
    for (InstructionKind kind : InstructionKind.values()) {
      prices.append(", ").append(kindName(kind)).append(' ').append(p.instruction(kind).base().units()).append(" + ")
          .append(p.instruction(kind).perByte().units()).append("/B");
    }
    prices.append("; upload ").append(p.uploadPerByte().units()).append("/B, download ")
        .append(p.downloadPerByte().units()).append("/B, memory ").append(p.memoryPerByteTimeUnit().units())
        .append("/B per time unit, storage ").append(p.storagePerByteDurationUnit().units())
        .append("/B per duration unit (units; 1 CAP = 1000000)");
    List<String> limitParts = new ArrayList<>();
    limits(table.limits()).forEach((name, value) -> limitParts.add(name + " " + value));
    return List.of("prices   table " + table.id().toHex() + ", valid " + table.validFrom() + " to " + table.validUntil(),
        prices.toString(), "limits   " + String.join(", ", limitParts));
  }

  /** The names of the prices above {@code ceilings}, in table order. */
  static List<String> above(Prices asked, Prices ceilings) {
    List<String> out = new ArrayList<>();
    Map<String, Amount> most = prices(ceilings);
    prices(asked).forEach((name, amount) -> {
      Amount ceiling = most.get(name);
      if (ceiling != null && amount.exceeds(ceiling)) {
        out.add(name);
      }
    });
    return out;
  }

  /** The table as JSON: id, host, window, prices and limits by name (prices in units). */
  static Json json(PriceTable table) {
    Map<String, Object> prices = new LinkedHashMap<>();
    prices(table.prices()).forEach((name, amount) -> prices.put(name, amount.units()));
    Map<String, Object> limits = new LinkedHashMap<>(limits(table.limits()));
    return new Json().put("id", table.id().toHex()).put("hostKey", table.hostKey().toHex())
        .put("validFrom", table.validFrom().toString()).put("validUntil", table.validUntil().toString())
        .put("prices", prices).put("limits", limits);
  }
}
