package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.pricing.SignedPriceTable;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issued price tables outlive a restart of the host, until their windows end. */
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
}
