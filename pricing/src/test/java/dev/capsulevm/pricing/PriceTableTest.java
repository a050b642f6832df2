package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.VerificationException;
import java.time.Instant;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PriceTableTest {
  private final PriceTable table = Fixtures.exampleTable();
  private final SignedPriceTable signed = table.sign(Fixtures.HOST);
  private final SettableClock clock = new SettableClock(Fixtures.VALID_FROM.plusSeconds(10));

  @Test
  void roundTripsAndVerifies() throws Exception {
    byte[] bytes = signed.encode();
    assertEquals(SignedPriceTable.LENGTH, bytes.length);
    assertEquals(317, bytes.length);
    SignedPriceTable parsed = SignedPriceTable.parse(bytes);
    assertEquals(signed, parsed);
    assertArrayEquals(bytes, parsed.encode());
    assertEquals(table, parsed.verify(clock));
    assertEquals(table.id(), parsed.table().id());
  }

  @Test
  void validityWindowIsHalfOpen() throws Exception {
    clock.set(Fixtures.VALID_FROM.minusSeconds(1));
    assertEquals(PricingException.Reason.NOT_YET_VALID,
        assertThrows(PricingException.class, () -> signed.verify(clock)).reason());
    clock.set(Fixtures.VALID_FROM);
    signed.verify(clock);
    clock.set(Fixtures.VALID_UNTIL.minusSeconds(1));
    signed.verify(clock);
    clock.set(Fixtures.VALID_UNTIL);
    assertEquals(PricingException.Reason.EXPIRED,
        assertThrows(PricingException.class, () -> signed.verify(clock)).reason());
  }

  @Test
  void signedByAnotherKeyIsRefused() {
    SignedPriceTable forged = new SignedPriceTable(table,
        new PriceTable(Fixtures.OTHER.publicKey(), Fixtures.VALID_FROM, Fixtures.VALID_UNTIL,
            table.prices(), table.limits()).sign(Fixtures.OTHER).signature());
    assertEquals(PricingException.Reason.BAD_SIGNATURE,
        assertThrows(PricingException.class, () -> forged.verify(clock)).reason());
    assertThrows(IllegalArgumentException.class, () -> table.sign(Fixtures.OTHER));
  }

  @Test
  void badLengthsAndTrailingBytesAreMalformed() {
    byte[] good = signed.encode();
    for (byte[] bad : new byte[][] {Arrays.copyOf(good, good.length + 1), Arrays.copyOf(good, good.length - 1),
        new byte[0]}) {
      VerificationException e = assertThrows(VerificationException.class, () -> SignedPriceTable.parse(bad));
      assertEquals(VerificationException.Failure.MALFORMED_ENCODING, e.failure());
    }
    assertThrows(VerificationException.class, () -> PriceTable.parseBody(Arrays.copyOf(table.body(), PriceTable.BODY_LENGTH - 1)));
  }

  @Test
  void aVersion1TableIsRefused() {
    byte[] body = table.body();
    body[0] = 1; // version 1 had no METADATA prices; its body was 16 bytes shorter
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING,
        assertThrows(VerificationException.class, () -> PriceTable.parseBody(body)).failure());
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING,
        assertThrows(VerificationException.class, () -> PriceTable.parseBody(Arrays.copyOf(body, 237))).failure());
  }

  @Test
  void flippingAnyByteFailsVerification() {
    Tamper.everyByteBreaks(signed.encode(), bytes -> SignedPriceTable.parse(bytes).verify(clock));
  }

  @Test
  void idChangesWithEveryPrice() {
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(table.prices().instructions());
    m.put(InstructionKind.HEADS, InstructionPrice.of(51, 1));
    Prices p = table.prices();
    PriceTable other = new PriceTable(table.hostKey(), table.validFrom(), table.validUntil(),
        new Prices(p.programBase(), p.programPerByte(), m, p.uploadPerByte(), p.downloadPerByte(),
            p.memoryPerByteTimeUnit(), p.storagePerByteDurationUnit()), table.limits());
    assertNotEquals(table.id(), other.id());
  }

  @Test
  void invalidTablesCannotBeBuilt() {
    assertThrows(IllegalArgumentException.class, () -> new PriceTable(Fixtures.HOST.publicKey(),
        Fixtures.VALID_FROM, Fixtures.VALID_FROM, table.prices(), table.limits()));
    assertThrows(IllegalArgumentException.class, () -> new PriceTable(Fixtures.HOST.publicKey(),
        Instant.ofEpochSecond(1, 5), Fixtures.VALID_UNTIL, table.prices(), table.limits()));
    Map<InstructionKind, InstructionPrice> missing = new EnumMap<>(table.prices().instructions());
    missing.remove(InstructionKind.PROVE);
    assertThrows(IllegalArgumentException.class, () -> new Prices(Amount.ZERO, Amount.ZERO, missing,
        Amount.ZERO, Amount.ZERO, Amount.ZERO, Amount.ZERO));
  }

  @Test
  void maxPricesRefuseATableNamingTheField() throws Exception {
    Prices p = table.prices();
    new MaxPrices(p).check(table); // equal is accepted
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(p.instructions());
    m.put(InstructionKind.APPEND_RECORD, InstructionPrice.of(2000, 3));
    MaxPrices cheaperAppend = new MaxPrices(new Prices(p.programBase(), p.programPerByte(), m,
        p.uploadPerByte(), p.downloadPerByte(), p.memoryPerByteTimeUnit(), p.storagePerByteDurationUnit()));
    PricingException e = assertThrows(PricingException.class, () -> cheaperAppend.check(table));
    assertEquals(PricingException.Reason.PRICE_ABOVE_MAXIMUM, e.reason());
    assertTrue(e.getMessage().contains("APPEND_RECORD.perByte"), e.getMessage());
    MaxPrices cheaperStorage = new MaxPrices(new Prices(p.programBase(), p.programPerByte(), p.instructions(),
        p.uploadPerByte(), p.downloadPerByte(), p.memoryPerByteTimeUnit(), Amount.of(4)));
    assertTrue(assertThrows(PricingException.class, () -> cheaperStorage.check(table)).getMessage()
        .contains("storagePerByteDurationUnit"));
  }
}
