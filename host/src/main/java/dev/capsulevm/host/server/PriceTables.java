package dev.capsulevm.host.server;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The price tables this host has signed. The current one is renewed (re-signed with a fresh window)
 * when less than half of its window is left, and every table issued stays acceptable until its own
 * window ends, so a renter that fetched a table just before a renewal or a price change is not broken.
 * Windows start {@link #SKEW} before now, for renters whose clocks are a little behind.
 *
 * <p>With a file ({@link #FILE} in the data directory), the issued tables are written there before a
 * new one is handed out and read back on start, so a restart does not break renters holding a table
 * whose window has not ended. The file is the tables' signed encodings back to back. A file of version 1
 * tables (written by a host from before METADATA prices) is ignored, with one line in the log: those
 * tables are no longer accepted, and a renter holding one is refused with FAILED_PRECONDITION and fetches
 * the current table.
 */
final class PriceTables {
  static final Duration SKEW = Duration.ofSeconds(60);
  static final String FILE = "price-tables.bin";
  private static final Logger log = LoggerFactory.getLogger(PriceTables.class);
  /** The version of the tables an older host kept, and their signed length (no METADATA prices: 16 bytes less). */
  private static final int OLD_VERSION = 1;
  private static final int OLD_LENGTH = SignedPriceTable.LENGTH - 16;

  private final SigningKey hostKey;
  private final Clock clock;
  private final Duration validity;
  private final Map<Hash, SignedPriceTable> issued = new LinkedHashMap<>();
  private final @Nullable Path fileOrNull;
  private Prices prices;
  private Limits limits;
  /** Null until the first table is signed. */
  private @Nullable SignedPriceTable current;

  /** Tables kept in memory only. */
  PriceTables(SigningKey hostKey, Clock clock, Duration validity, Prices prices, Limits limits) {
    this(hostKey, clock, validity, prices, limits, null);
  }

  private PriceTables(SigningKey hostKey, Clock clock, Duration validity, Prices prices, Limits limits,
      @Nullable Path fileOrNull) {
    this.hostKey = hostKey;
    this.clock = clock;
    this.validity = validity;
    this.prices = prices;
    this.limits = limits;
    this.fileOrNull = fileOrNull;
  }

  /**
   * Tables kept in {@code file} too: the ones issued before (by this host key) are read back and stay
   * acceptable until their windows end.
   */
  static PriceTables keptIn(Path file, SigningKey hostKey, Clock clock, Duration validity, Prices prices,
      Limits limits) throws IOException {
    PriceTables tables = new PriceTables(hostKey, clock, validity, prices, limits, file);
    if (Files.exists(file)) {
      synchronized (tables) {
        for (SignedPriceTable table : read(file)) {
          if (table.table().hostKey().equals(hostKey.publicKey())) {
            tables.issued.put(table.table().id(), table);
          }
        }
        tables.prune(clock.instant());
      }
    }
    return tables;
  }

  /** The worked example's prices of docs/PROTOCOL.md: a host's defaults until the operator sets others. */
  static Prices defaultPrices() {
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
    m.put(InstructionKind.CREATE_CAPSULE, InstructionPrice.of(5000, 3));
    m.put(InstructionKind.APPEND_RECORD, InstructionPrice.of(2000, 4));
    m.put(InstructionKind.READ_SUB_RECORD, InstructionPrice.of(500, 1));
    m.put(InstructionKind.PROVE, InstructionPrice.of(800, 2));
    m.put(InstructionKind.HAS_RECORD, InstructionPrice.of(100, 1));
    m.put(InstructionKind.READ_BY_HASH, InstructionPrice.of(300, 1));
    m.put(InstructionKind.HEADS, InstructionPrice.of(50, 1));
    m.put(InstructionKind.METADATA, InstructionPrice.of(50, 1)); // like HEADS: one small lookup
    return new Prices(Amount.of(1000), Amount.of(2), m, Amount.of(1), Amount.of(2), Amount.of(1), Amount.of(5));
  }

  /** The current table, signing a new one first when the current one is past half its window. */
  synchronized SignedPriceTable current() {
    Instant now = clock.instant();
    SignedPriceTable table = current;
    if (table == null || !now.isBefore(renewAt(table.table()))) {
      table = sign(now);
    }
    return table;
  }

  /** Replaces prices and limits and signs a table with them at once. */
  synchronized SignedPriceTable replace(Prices prices, Limits limits) {
    this.prices = prices;
    this.limits = limits;
    return sign(clock.instant());
  }

  synchronized Prices prices() {
    return prices;
  }

  synchronized Limits limits() {
    return limits;
  }

  /** A table this host issued whose window has not ended, or null with the reason in {@code why}. */
  synchronized @Nullable SignedPriceTable acceptable(Hash id, StringBuilder why) {
    Instant now = clock.instant();
    prune(now);
    SignedPriceTable table = issued.get(id);
    if (table == null) {
      why.append("price table ").append(id).append(" was not issued by this host or has expired;"
          + " fetch the current one with GetPriceTable");
      return null;
    }
    if (!now.isBefore(table.table().validUntil())) {
      why.append("price table ").append(id).append(" expired at ").append(table.table().validUntil())
          .append("; fetch the current one with GetPriceTable");
      return null;
    }
    if (now.isBefore(table.table().validFrom())) {
      why.append("price table ").append(id).append(" is valid from ").append(table.table().validFrom());
      return null;
    }
    return table;
  }

  /** Whether {@code id} was issued here, expired or not (kept until shortly after it expires). */
  synchronized boolean wasIssued(Hash id) {
    return issued.containsKey(id);
  }

  private Instant renewAt(PriceTable table) {
    Duration window = Duration.between(table.validFrom(), table.validUntil());
    return table.validUntil().minus(window.minus(SKEW).dividedBy(2));
  }

  /** Signs a table with the prices and limits, and makes it the current one. */
  private SignedPriceTable sign(Instant now) {
    Instant from = Instant.ofEpochSecond(now.getEpochSecond()).minus(SKEW);
    Instant until = Instant.ofEpochSecond(now.getEpochSecond()).plus(validity);
    SignedPriceTable before = current;
    if (before != null && !before.table().validFrom().isBefore(from)) {
      // Never two tables with the same window and contents: push the start a second on.
      from = before.table().validFrom().plusSeconds(1);
      until = until.isAfter(from) ? until : from.plusSeconds(1);
    }
    SignedPriceTable signed = new PriceTable(hostKey.publicKey(), from, until, prices, limits).sign(hostKey);
    current = signed;
    issued.put(signed.table().id(), signed);
    prune(now);
    if (fileOrNull != null) {
      write(fileOrNull);
    }
    return signed;
  }

  /** Replaces the file with every table kept, before the new one is handed out. */
  private void write(Path file) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (SignedPriceTable table : issued.values()) {
      out.writeBytes(table.encode());
    }
    Path tmp = file.resolveSibling(FILE + ".tmp");
    try {
      DataDirectory.writePrivate(tmp, out.toByteArray());
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("could not keep the issued price tables in " + file, e);
    }
  }

  private static List<SignedPriceTable> read(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    if (isOld(bytes)) {
      log.info("{} holds price tables of version {} issued by an older host; they are no longer accepted"
          + " (renters holding one fetch the current table)", file, OLD_VERSION);
      return List.of();
    }
    if (bytes.length % SignedPriceTable.LENGTH != 0) {
      throw new IOException(file + " is not a list of signed price tables: " + bytes.length + " bytes is not a"
          + " multiple of " + SignedPriceTable.LENGTH);
    }
    List<SignedPriceTable> tables = new ArrayList<>();
    for (int at = 0; at < bytes.length; at += SignedPriceTable.LENGTH) {
      try {
        tables.add(SignedPriceTable.parse(Arrays.copyOfRange(bytes, at, at + SignedPriceTable.LENGTH)));
      } catch (VerificationException e) {
        throw new IOException(file + " holds a table that does not parse: " + e.getMessage(), e);
      }
    }
    return tables;
  }

  /** Whether {@code bytes} are version 1 tables back to back, as an older host wrote them. */
  private static boolean isOld(byte[] bytes) {
    if (bytes.length == 0 || bytes.length % OLD_LENGTH != 0) {
      return false;
    }
    for (int at = 0; at < bytes.length; at += OLD_LENGTH) {
      if (bytes[at] != OLD_VERSION) {
        return false;
      }
    }
    return true;
  }

  /** Forgets tables expired for more than their whole window (kept that long to name them "expired"). */
  private void prune(Instant now) {
    Hash keep = current == null ? null : current.table().id();
    for (Iterator<Map.Entry<Hash, SignedPriceTable>> it = issued.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Hash, SignedPriceTable> entry = it.next();
      PriceTable t = entry.getValue().table();
      if (!entry.getKey().equals(keep)
          && now.isAfter(t.validUntil().plus(Duration.between(t.validFrom(), t.validUntil())))) {
        it.remove();
      }
    }
  }
}
