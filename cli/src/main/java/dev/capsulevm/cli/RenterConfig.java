package dev.capsulevm.cli;

import dev.capsulevm.host.daemon.OneLine;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.proto.tls.CertificatePin;
import dev.capsulevm.proto.tls.ChannelSecurity;
import dev.capsulevm.renter.RenterOptions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;

/**
 * What the renter and operator commands take when a flag is not given: an environment variable, else a
 * key of the renter's config file, else the built-in default. The file is a Java properties file
 * ({@code key=value} per line, {@code #} comments) named by {@code --config FILE}, else by
 * {@code $CAPSULEVM_CONFIG}, else {@code $XDG_CONFIG_HOME/capsulevm/renter.properties} (by default
 * {@code ~/.config/capsulevm/renter.properties}) when that exists. Its keys are the long option names
 * without the dashes, as in the host's config file:
 *
 * <pre>
 * host=HOST:PORT        the host when neither --host nor a capsule's saved hosts say (default 127.0.0.1:7420)
 * admin=HOST:PORT       the host's admin endpoint (default 127.0.0.1:7421)
 * state=DIR             the renter's local state (default ~/.capsulevm/renter)
 * account-key=FILE      the account key (default account.pem in the state)
 * token-file=FILE       the admin token (default capsulevm-data/admin.token)
 * tls-ca=FILE | tls-pin=SHA256[,...] | tls=true   how the host's certificate is checked (one of them)
 * budget=CAP            pay at most this per program instead of its estimate
 * max-cost=CAP          refuse a program whose estimate is above this; no budget above it
 * session=CAP           pay each command's programs from a payment session holding this much
 * max-price.NAME=UNITS  the most this renter pays for one price of a host's table ({@link PriceFields})
 * </pre>
 *
 * Each key's environment variable is {@code CAPSULEVM_} and the key in upper case with {@code -} and
 * {@code .} as {@code _}: {@code CAPSULEVM_HOST}, {@code CAPSULEVM_MAX_PRICE_READ_SUB_RECORD_BASE};
 * {@code CAPSULEVM_RENTER_STATE}, the older name of {@code CAPSULEVM_STATE}, is still read. An empty
 * variable counts as unset. The TLS choice is one setting: the first of the flags, the environment and
 * the file that names any of {@code tls-ca}, {@code tls-pin} and {@code tls} decides it. A path may start
 * with {@code ~/}; a relative one is taken from the working directory. Every value is checked when the
 * config is first used: a bad value or an unknown key is a usage error naming where it came from.
 *
 * <p>{@link Main} sets the flag and the environment for each run ({@link #configure}); the file is read
 * on first use ({@link #current()}), so a command that needs none of it never reads it.
 */
final class RenterConfig {
  /** The environment variable naming the config file. */
  static final String CONFIG_ENV = "CAPSULEVM_CONFIG";
  /** The older name of {@code CAPSULEVM_STATE}. */
  static final String LEGACY_STATE_ENV = "CAPSULEVM_RENTER_STATE";
  /** The prefix of the keys of the renter's price ceilings. */
  static final String MAX_PRICE = "max-price.";
  /** The keys besides {@code max-price.NAME}. */
  static final List<String> KEYS = List.of("host", "admin", "state", "account-key", "token-file", "tls-ca",
      "tls-pin", "tls", "budget", "max-cost", "session");
  private static final List<String> TLS_KEYS = List.of("tls-ca", "tls-pin", "tls");

  /** A setting's value and where it came from ({@code CAPSULEVM_HOST}, or {@code FILE: host}). */
  record Setting(String key, String value, String source) {}

  private static final Object LOCK = new Object();
  private static @Nullable Path configFlag;
  private static Function<String, @Nullable String> environment = System::getenv;
  private static @Nullable RenterConfig loaded;

  private final @Nullable Path file;
  /** The effective settings by key: the environment's over the file's. */
  private final Map<String, Setting> settings;
  /** The TLS choice (its key says which), or null when neither the environment nor the file makes one. */
  private final @Nullable Setting tls;

  private RenterConfig(@Nullable Path file, Map<String, Setting> settings, @Nullable Setting tls) {
    this.file = file;
    this.settings = settings;
    this.tls = tls;
  }

  /** Sets {@code --config} (null when not given) and the environment for the command about to run. */
  static void configure(@Nullable Path flagOrNull, Function<String, @Nullable String> env) {
    synchronized (LOCK) {
      configFlag = flagOrNull;
      environment = env;
      loaded = null;
    }
  }

  /**
   * The config of this run, read on first use.
   *
   * @throws IllegalArgumentException (a usage error) naming the file or variable that is wrong
   */
  static RenterConfig current() {
    synchronized (LOCK) {
      RenterConfig config = loaded;
      if (config == null) {
        config = load(configFlag, environment);
        loaded = config;
      }
      return config;
    }
  }

  /** The environment variable of {@code key}. */
  static String envName(String key) {
    return "CAPSULEVM_" + key.toUpperCase(Locale.ROOT).replace('-', '_').replace('.', '_');
  }

  /** Every key a config file may hold. */
  static List<String> allKeys() {
    List<String> out = new ArrayList<>(KEYS);
    PriceFields.PRICES.forEach(name -> out.add(MAX_PRICE + name));
    return out;
  }

  /** Reads and checks the config: the file {@code flagOrNull} or the environment names, or the default one. */
  static RenterConfig load(@Nullable Path flagOrNull, Function<String, @Nullable String> env) {
    Path file = flagOrNull;
    if (file == null && present(env.apply(CONFIG_ENV))) {
      file = path(String.valueOf(env.apply(CONFIG_ENV)));
    }
    boolean required = file != null;
    if (file == null) {
      String xdg = env.apply("XDG_CONFIG_HOME");
      Path base = present(xdg) ? Path.of(String.valueOf(xdg)) : Path.of(System.getProperty("user.home"), ".config");
      file = base.resolve("capsulevm").resolve("renter.properties");
    }
    Map<String, Setting> fromFile = new LinkedHashMap<>();
    if (required || Files.isRegularFile(file)) {
      Properties props = new Properties();
      try (InputStream in = Files.newInputStream(file)) {
        props.load(in);
      } catch (IOException | IllegalArgumentException e) {
        throw new IllegalArgumentException("cannot read the renter config " + file + ": " + OneLine.of(e), e);
      }
      List<String> known = allKeys();
      TreeSet<String> unknown = new TreeSet<>(props.stringPropertyNames());
      unknown.removeAll(known);
      if (!unknown.isEmpty()) {
        throw new IllegalArgumentException("the renter config " + file + " has unknown keys " + unknown + "; its keys are "
            + String.join(", ", KEYS) + " and max-price.NAME for NAME one of " + String.join(", ", PriceFields.PRICES));
      }
      for (String key : known) {
        String value = props.getProperty(key);
        if (value != null && !value.isBlank()) {
          fromFile.put(key, new Setting(key, value.strip(), file + ": " + key));
        }
      }
    } else {
      file = null;
    }
    Map<String, Setting> fromEnv = new LinkedHashMap<>();
    for (String key : allKeys()) {
      String value = env.apply(envName(key));
      if (key.equals("state") && !present(value)) {
        value = env.apply(LEGACY_STATE_ENV);
        if (present(value)) {
          fromEnv.put(key, new Setting(key, String.valueOf(value).strip(), LEGACY_STATE_ENV));
        }
        continue;
      }
      if (present(value)) {
        fromEnv.put(key, new Setting(key, String.valueOf(value).strip(), envName(key)));
      }
    }
    Setting tls = tlsChoice(fromEnv);
    if (tls == null) {
      tls = tlsChoice(fromFile);
    }
    Map<String, Setting> settings = new LinkedHashMap<>(fromFile);
    settings.putAll(fromEnv);
    TLS_KEYS.forEach(settings::remove);
    if (tls != null) {
      settings.put(tls.key(), tls);
    }
    RenterConfig config = new RenterConfig(file, settings, tls);
    config.check();
    return config;
  }

  /** The one TLS setting of a layer, or null when it names none; two are an error naming them. */
  private static @Nullable Setting tlsChoice(Map<String, Setting> layer) {
    List<Setting> given = new ArrayList<>();
    for (String key : TLS_KEYS) {
      Setting s = layer.get(key);
      if (s != null) {
        given.add(s);
      }
    }
    if (given.size() > 1) {
      throw new IllegalArgumentException(String.join(" and ", given.stream().map(Setting::source).toList())
          + ": give one way of checking the host's certificate (tls-ca, tls-pin or tls), not several");
    }
    return given.isEmpty() ? null : given.get(0);
  }

  /** Parses every value once, so that a bad one is named before any command runs. */
  private void check() {
    maxPrices(RenterOptions.defaultMaxPrices().max());
    budgetOrNull();
    maxCostOrNull();
    sessionOrNull();
    tlsSecurityChoice();
  }

  private static boolean present(@Nullable String value) {
    return value != null && !value.isBlank();
  }

  /** A path, with a leading {@code ~/} meaning the home directory. */
  static Path path(String text) {
    String t = text.strip();
    if (t.equals("~") || t.startsWith("~/")) {
      return Path.of(System.getProperty("user.home"), t.length() <= 2 ? "" : t.substring(2));
    }
    return Path.of(t);
  }

  /** The config file read, or null when there was none. */
  @Nullable Path fileOrNull() {
    return file;
  }

  /** Every effective setting by key (the TLS choice under its own key), with where it came from. */
  Map<String, Setting> settings() {
    return settings;
  }

  @Nullable Setting get(String key) {
    return settings.get(key);
  }

  /** {@code host}, or null. */
  @Nullable String hostOrNull() {
    Setting s = get("host");
    return s == null ? null : s.value();
  }

  /** {@code admin}, or null. */
  @Nullable String adminOrNull() {
    Setting s = get("admin");
    return s == null ? null : s.value();
  }

  /** {@code state}, or null. */
  @Nullable Path stateOrNull() {
    Setting s = get("state");
    return s == null ? null : path(s.value());
  }

  /** {@code account-key}, or null. */
  @Nullable Path accountKeyOrNull() {
    Setting s = get("account-key");
    return s == null ? null : path(s.value());
  }

  /** {@code token-file}, or null. */
  @Nullable Path tokenFileOrNull() {
    Setting s = get("token-file");
    return s == null ? null : path(s.value());
  }

  /** {@code budget}, or null. */
  @Nullable Amount budgetOrNull() {
    return amount("budget");
  }

  /** {@code session}, or null. */
  @Nullable Amount sessionOrNull() {
    return amount("session");
  }

  /** {@code max-cost}, or null. */
  @Nullable Amount maxCostOrNull() {
    return amount("max-cost");
  }

  private @Nullable Amount amount(String key) {
    Setting s = get(key);
    if (s == null) {
      return null;
    }
    try {
      return new RenterArgs.BudgetConverter().convert(s.value());
    } catch (CommandLine.TypeConversionException e) {
      throw new IllegalArgumentException(s.source() + ": " + e.getMessage(), e);
    }
  }

  /** {@code defaults} with every {@code max-price.NAME} set here in its place. */
  Prices maxPrices(Prices defaults) {
    Map<String, Amount> changes = new LinkedHashMap<>();
    for (String name : PriceFields.PRICES) {
      Setting s = get(MAX_PRICE + name);
      if (s == null) {
        continue;
      }
      long units;
      try {
        units = Long.parseLong(s.value());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(s.source() + ": not a whole number of units: '" + s.value() + "'", e);
      }
      if (units < 0) {
        throw new IllegalArgumentException(s.source() + ": a price is never negative, got " + units);
      }
      changes.put(name, Amount.of(units));
    }
    return changes.isEmpty() ? defaults : PriceFields.withPrices(defaults, changes);
  }

  /** The TLS choice, parsed: what {@link #securityOrNull()} builds from. */
  private @Nullable Object tlsSecurityChoice() {
    Setting s = tls;
    if (s == null) {
      return null;
    }
    if (s.key().equals("tls")) {
      String v = s.value().toLowerCase(Locale.ROOT);
      if (!v.equals("true") && !v.equals("false")) {
        throw new IllegalArgumentException(s.source() + ": true or false, got '" + s.value() + "'");
      }
      return Boolean.valueOf(v);
    }
    if (s.key().equals("tls-pin")) {
      List<CertificatePin> pins = new ArrayList<>();
      for (String pin : s.value().split(",", -1)) {
        try {
          pins.add(CertificatePin.parse(pin.strip()));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(s.source() + ": " + e.getMessage(), e);
        }
      }
      return pins;
    }
    return path(s.value());
  }

  /**
   * How to reach the host when no TLS flag is given: the TLS choice of the environment or the file, or
   * null when neither makes one (plaintext).
   */
  @Nullable ChannelSecurity securityOrNull() throws IOException {
    Object choice = tlsSecurityChoice();
    if (choice == null) {
      return null;
    }
    if (choice instanceof Boolean system) {
      return system ? ChannelSecurity.systemTrust() : ChannelSecurity.plaintext();
    }
    if (choice instanceof Path ca) {
      return ChannelSecurity.trustingCa(ca);
    }
    @SuppressWarnings("unchecked")
    List<CertificatePin> pins = (List<CertificatePin>) choice;
    return ChannelSecurity.pinning(pins);
  }
}
