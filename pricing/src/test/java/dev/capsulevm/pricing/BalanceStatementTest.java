package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class BalanceStatementTest {
  private static final Instant AT = Instant.ofEpochMilli(1_800_000_060_500L);
  private final Hash program = Fixtures.programId("last program");
  private final BalanceStatement statement =
      new BalanceStatement(Fixtures.HOST.publicKey(), AT, Fixtures.RENTER.publicKey(), Amount.of(123_456), program);

  @Test
  void roundTripsAndVerifies() throws Exception {
    SignedBalanceStatement signed = statement.sign(Fixtures.HOST);
    byte[] bytes = signed.encode();
    assertEquals(177, bytes.length);
    assertEquals(SignedBalanceStatement.LENGTH, bytes.length);
    SignedBalanceStatement parsed = SignedBalanceStatement.parse(bytes);
    assertEquals(signed, parsed);
    assertArrayEquals(bytes, parsed.encode());
    assertEquals(statement, parsed.verify(Fixtures.HOST.publicKey()));
  }

  @Test
  void noLastProgramIsZeroBytesAndReadsBackAsNone() throws Exception {
    BalanceStatement none = new BalanceStatement(Fixtures.HOST.publicKey(), AT, Fixtures.RENTER.publicKey(),
        Amount.ZERO, null);
    byte[] body = none.body();
    assertArrayEquals(new byte[32], Arrays.copyOfRange(body, 81, 113));
    assertNull(BalanceStatement.parseBody(body).lastProgramIdOrNull());
  }

  @Test
  void aStatementOfAnotherHostOrSignedByAnotherKeyIsRefused() throws Exception {
    SignedBalanceStatement forged = new SignedBalanceStatement(statement,
        Fixtures.OTHER.sign(Domain.BALANCE_STATEMENT_SIGNATURE, statement.body()));
    assertEquals(PricingException.Reason.BAD_SIGNATURE, assertThrows(PricingException.class,
        () -> forged.verify(Fixtures.HOST.publicKey())).reason());
    // A receipt's signature over the same bytes is not a statement's: the domain tags differ.
    SignedBalanceStatement crossDomain = new SignedBalanceStatement(statement,
        Fixtures.HOST.sign(Domain.RECEIPT_SIGNATURE, statement.body()));
    assertEquals(PricingException.Reason.BAD_SIGNATURE, assertThrows(PricingException.class,
        () -> crossDomain.verify(Fixtures.HOST.publicKey())).reason());
    SignedBalanceStatement other = new BalanceStatement(Fixtures.OTHER.publicKey(), AT,
        Fixtures.RENTER.publicKey(), Amount.of(1), null).sign(Fixtures.OTHER);
    assertEquals(PricingException.Reason.WRONG_HOST, assertThrows(PricingException.class,
        () -> other.verify(Fixtures.HOST.publicKey())).reason());
    assertThrows(IllegalArgumentException.class, () -> statement.sign(Fixtures.OTHER));
  }

  @Test
  void flippingAnyByteFailsParsingOrVerification() {
    Tamper.everyByteBreaks(statement.sign(Fixtures.HOST).encode(),
        bytes -> SignedBalanceStatement.parse(bytes).verify(Fixtures.HOST.publicKey()));
  }

  @Test
  void parseRefusesAnyOtherLength() {
    byte[] good = statement.sign(Fixtures.HOST).encode();
    for (byte[] bad : new byte[][] {Arrays.copyOf(good, good.length + 1), Arrays.copyOf(good, good.length - 1),
        new byte[0]}) {
      assertMalformed(() -> SignedBalanceStatement.parse(bad));
    }
    assertMalformed(() -> BalanceStatement.parseBody(Arrays.copyOf(statement.body(), 112)));
  }

  @Test
  void parseRefusesAnotherVersion() {
    for (int version : new int[] {0, 2}) {
      byte[] body = statement.body();
      body[0] = (byte) version;
      assertMalformed(() -> BalanceStatement.parseBody(body));
    }
  }

  @Test
  void parseRefusesATimeOrBalanceWithTheTopBitSet() {
    for (int offset : new int[] {33, 73}) {
      byte[] body = statement.body();
      body[offset] |= (byte) 0x80;
      assertMalformed(() -> BalanceStatement.parseBody(body));
    }
  }

  @Test
  void parseRefusesKeysThatAreNotCurvePoints() {
    for (int offset : new int[] {1, 41}) {
      byte[] body = statement.body();
      ByteBuffer.wrap(body).put(offset, new byte[32]).put(offset, (byte) 2); // y = 2: no point
      assertMalformed(() -> BalanceStatement.parseBody(body));
    }
  }

  @Test
  void valuesWithoutAnEncodingCannotBeBuilt() {
    assertThrows(IllegalArgumentException.class, () -> new BalanceStatement(Fixtures.HOST.publicKey(),
        AT.plusNanos(1), Fixtures.RENTER.publicKey(), Amount.ZERO, null));
    assertThrows(IllegalArgumentException.class, () -> new BalanceStatement(Fixtures.HOST.publicKey(),
        AT, Fixtures.RENTER.publicKey(), Amount.ZERO, Hash.copyOf(new byte[32])));
  }

  @Test
  void aStatementOfALedgerNamesItsLastProgramAndBalance() throws Exception {
    SettableClock clock = new SettableClock(Fixtures.VALID_FROM.plusNanos(1_500_000));
    InMemoryLedger ledger = new InMemoryLedger(clock, Amount.ofCap(1));
    ledger.deposit(Fixtures.RENTER.publicKey(), Amount.of(500));
    BalanceStatement before = BalanceStatement.of(ledger, Fixtures.RENTER.publicKey(), Fixtures.HOST.publicKey(),
        clock);
    assertNull(before.lastProgramIdOrNull());
    assertEquals(Amount.of(500), before.balance());
    assertEquals(Fixtures.VALID_FROM.plusMillis(1), before.issuedAt());
    ledger.settle(new Settlement(Fixtures.RENTER.publicKey(), 1, Fixtures.VALID_FROM.plusSeconds(60), program,
        Amount.of(20)));
    BalanceStatement after = BalanceStatement.of(ledger, Fixtures.RENTER.publicKey(), Fixtures.HOST.publicKey(),
        Clock.fixed(AT, ZoneOffset.UTC));
    assertEquals(program, after.lastProgramIdOrNull());
    assertEquals(Amount.of(480), after.balance());
  }

  private interface Parse {
    void run() throws VerificationException;
  }

  private static void assertMalformed(Parse parse) {
    VerificationException e = assertThrows(VerificationException.class, parse::run);
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING, e.failure());
  }
}
