package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issued price tables outlive a restart of the host, until their windows end; what an older host left
 * (version 1 tables and prices, before METADATA prices) does not stop a start.
 */
class PriceTablesTest {
  private static final Duration VALIDITY = Duration.ofHours(1);

  @TempDir Path dir;
  private final SettableClock clock = new SettableClock(Instant.parse("2030-01-01T00:00:00Z"));
  private final SigningKey hostKey = SigningKey.generate();
  private final Limits limits = new Limits(1 << 20, 64, 1 << 20, 1024, 8, Amount.of(1L << 40));

  private PriceTables open(SigningKey key) throws IOException {
    return PriceTables.keptIn(dir.resolve(PriceTables.FILE), key, clock, VALIDITY, PriceTables.defaultPrices(),
        limits);
  }

  @Test
  void everyIssuedTableIsAcceptableAfterARestartUntilItsWindowEnds() throws Exception {
    PriceTables before = open(hostKey);
    SignedPriceTable first = before.current();
    clock.advance(VALIDITY.dividedBy(2).plusMinutes(1));
    SignedPriceTable renewed = before.current();
    assertNotEquals(first.table().id(), renewed.table().id(), "past half its window the table is renewed");

    PriceTables after = open(hostKey);
    StringBuilder why = new StringBuilder();
    assertEquals(first, after.acceptable(first.table().id(), why), why.toString());
    assertEquals(renewed, after.acceptable(renewed.table().id(), why), why.toString());

    clock.advance(VALIDITY);
    assertNull(open(hostKey).acceptable(first.table().id(), why), "a table whose window ended is not");
    assertTrue(why.toString().contains("expired"), why.toString());
  }

  @Test
  void tablesSignedByAnotherKeyAreNotTakenBack() throws Exception {
    SignedPriceTable mine = open(hostKey).current();
    assertNull(open(SigningKey.generate()).acceptable(mine.table().id(), new StringBuilder()));
    assertNotNull(open(hostKey).acceptable(mine.table().id(), new StringBuilder()));
  }

  @Test
  void aDamagedFileStopsTheStartWithItsName() throws Exception {
    open(hostKey).current();
    Path file = dir.resolve(PriceTables.FILE);
    Files.write(file, new byte[] {1, 2, 3});
    IOException e = assertThrows(IOException.class, () -> open(hostKey));
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
  }

  /**
   * {@code table}'s body as a host from before METADATA prices wrote it: version 1, without METADATA's
   * base and per-byte price (the 16 bytes after HEADS's).
   */
  static byte[] version1Body(PriceTable table) {
    byte[] body = table.body();
    int headsEnd = 1 + 32 + 8 + 8 + 8 + 8 + 7 * 16;
    byte[] old = new byte[body.length - 16];
    System.arraycopy(body, 0, old, 0, headsEnd);
    System.arraycopy(body, headsEnd + 16, old, headsEnd, body.length - headsEnd - 16);
    old[0] = 1;
    return old;
  }

  /** Prices unlike the defaults, METADATA's unlike HEADS's, so a conversion can be seen. */
  static Prices operatorPrices() {
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      m.put(kind, InstructionPrice.of(10 * kind.code(), kind.code()));
    }
    return new Prices(Amount.of(777), Amount.of(3), m, Amount.of(4), Amount.of(5), Amount.of(6), Amount.of(7));
  }

  @Test
  void tablesOfVersion1LeftByAnOlderHostAreIgnoredAndTheFileRewritten() throws Exception {
    PriceTable table = open(hostKey).current().table();
    byte[] old = version1Body(table);
    byte[] file = new byte[2 * (old.length + 64)];
    System.arraycopy(old, 0, file, 0, old.length);
    System.arraycopy(old, 0, file, old.length + 64, old.length); // two tables, signatures not looked at
    Files.write(dir.resolve(PriceTables.FILE), file);

    PriceTables started = open(hostKey);
    assertNull(started.acceptable(table.id(), new StringBuilder()), "the old tables are gone");
    SignedPriceTable fresh = started.current();
    assertEquals(SignedPriceTable.LENGTH, Files.size(dir.resolve(PriceTables.FILE)), "rewritten with the new table");
    assertEquals(fresh, open(hostKey).acceptable(fresh.table().id(), new StringBuilder()));
  }

  @Test
  void pricesOfVersion1AreKeptWithMetadataPricedLikeHeads() throws Exception {
    PriceTable saved = new PriceTable(hostKey.publicKey(), clock.instant(), clock.instant().plus(VALIDITY),
        operatorPrices(), limits);
    Files.write(dir.resolve(PriceTemplateStore.FILE), version1Body(saved));
    PriceTable loaded = new PriceTemplateStore(dir).loadOrNull();
    assertNotNull(loaded);
    assertEquals(saved.limits(), loaded.limits());
    for (InstructionKind kind : InstructionKind.values()) {
      InstructionKind from = kind == InstructionKind.METADATA ? InstructionKind.HEADS : kind;
      assertEquals(saved.prices().instruction(from), loaded.prices().instruction(kind), kind.name());
    }
    assertEquals(saved.prices().programBase(), loaded.prices().programBase());
    assertEquals(saved.prices().storagePerByteDurationUnit(), loaded.prices().storagePerByteDurationUnit());
    assertEquals(saved.prices().downloadPerByte(), loaded.prices().downloadPerByte());
  }

  @Test
  void metadataIsPricedLikeHeadsByDefault() {
    assertEquals(PriceTables.defaultPrices().instruction(InstructionKind.HEADS),
        PriceTables.defaultPrices().instruction(InstructionKind.METADATA));
  }

  @Test
  void aHostStartsOnADirectoryAnOlderHostLeftAndKeepsItsOperatorsPrices() throws Exception {
    PriceTable oldTable = new PriceTable(hostKey.publicKey(), clock.instant(), clock.instant().plus(VALIDITY),
        operatorPrices(), limits);
    byte[] oldSigned = new byte[oldTable.body().length - 16 + 64];
    System.arraycopy(version1Body(oldTable), 0, oldSigned, 0, oldTable.body().length - 16);
    Files.write(dir.resolve(PriceTables.FILE), oldSigned);
    Files.write(dir.resolve(PriceTemplateStore.FILE), version1Body(oldTable));
    try (TestHost t = new TestHost(TestHost.config(dir))) {
      PriceTable table = t.table().table();
      assertEquals(operatorPrices().instruction(InstructionKind.HEADS), table.prices().instruction(InstructionKind.METADATA));
      assertEquals(operatorPrices().instruction(InstructionKind.PROVE), table.prices().instruction(InstructionKind.PROVE));
      assertEquals(operatorPrices().programBase(), table.prices().programBase());
    }
  }
}
