package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Cashier;
import dev.capsulevm.pricing.InMemoryLedger;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.pricing.SignedWithdrawal;
import dev.capsulevm.pricing.Withdrawal;
import dev.capsulevm.program.DataRef;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Program;
import dev.capsulevm.program.ProgramEncoding;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.proto.v1.ProgramHeader;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Admission without gRPC: each refusal with its reason and message, and what is held afterwards. */
class AdmissionTest {
  private static final long DEPOSIT = 10_000_000;
  private static final long BUDGET = 1_000_000;
  private static final int MAX_PROGRAMS = 2;

  private final SettableClock clock = new SettableClock(Instant.parse("2030-01-01T00:00:00Z"));
  private final SigningKey hostKey = SigningKey.generate();
  private final SigningKey account = SigningKey.generate();
  private final InMemoryLedger ledger = new InMemoryLedger(clock, Amount.of(1L << 40));
  private final Reservations holds = new Reservations(ledger, clock, Duration.ofHours(1), Amount.of(1L << 40));
  private final PriceTables tables = new PriceTables(hostKey, clock, Duration.ofHours(1), PriceTables.defaultPrices(),
      new Limits(1 << 20, 100, 1 << 20, 1000, MAX_PROGRAMS, Amount.of(1L << 40)));
  private final HostConfig config = HostConfig.defaults(Path.of("unused")).withRate(0.001, 2);
  private final ProgramSlots slots = new ProgramSlots(0.25, n -> { });
  private boolean closing;
  private final Admission admission = new Admission(tables, new Cashier(holds, hostKey.publicKey(), clock),
      new RateLimiter(config.programsPerSecondPerAccount(), config.programBurstPerAccount()), config, slots,
      sessions(holds), () -> closing);
  private final byte[] program = ProgramEncoding.encode(
      new Program(null, List.of(new Instruction.HasRecord(new DataRef(0, 32))), 32));
  private long nonce;

  private Sessions sessions(Reservations in) {
    return new Sessions(HostConfig.SessionLimits.DEFAULTS, clock, hostKey, tables, in, () -> false);
  }

  AdmissionTest() throws Exception {
    ledger.deposit(account.publicKey(), Amount.of(DEPOSIT));
  }

  private PriceTable table() {
    return tables.current().table();
  }

  private Withdrawal withdrawal(SigningKey payer, long budget) {
    PriceTable t = table();
    return new Withdrawal(payer.publicKey(), Amount.of(budget), ++nonce, clock.instant().plusSeconds(60), t.id(),
        t.hostKey());
  }

  private static ProgramHeader.Builder header(byte[] program, PriceTable table, SignedWithdrawal withdrawal) {
    return ProgramHeader.newBuilder().setProgram(ByteString.copyFrom(program))
        .setPriceTableId(ByteString.copyFrom(table.id().toByteArray()))
        .setSignedWithdrawal(ByteString.copyFrom(withdrawal.encode())).setDurationUnits(1);
  }

  private ProgramHeader.Builder header(SignedWithdrawal withdrawal) {
    return header(program, table(), withdrawal);
  }

  private ProgramHeader.Builder header() {
    return header(withdrawal(account, BUDGET).sign(account));
  }

  /** What the account may still spend: its balance less the budgets held for its programs. */
  private long balance() {
    return holds.spendable(account.publicKey()).units();
  }

  /** Refused for {@code reason}, with a message naming {@code named}, and holding nothing. */
  private Admission.Refused refused(ProgramHeader.Builder header, EndReason reason, String named) {
    long before = balance();
    int taken = slots.running();
    Admission.Refused refused = assertInstanceOf(Admission.Refused.class, admission.decide(header.build()));
    assertEquals(reason, refused.reason(), refused.message());
    assertTrue(refused.message().contains(named), refused.message());
    assertEquals(taken, slots.running(), "a refused program holds no slot");
    assertEquals(before, balance(), "a refused program holds no budget");
    return refused;
  }

  @Test
  void admitted_holdsASlotAndItsBudgetInAMeterWithTheStartCharged() {
    Admission.Admitted admitted = assertInstanceOf(Admission.Admitted.class, admission.decide(header().build()));
    assertEquals(1, slots.running());
    assertEquals(1, slots.running(account.publicKey()));
    assertEquals(DEPOSIT - BUDGET, balance());
    assertEquals(DEPOSIT, ledger.balance(account.publicKey()).units(), "held in memory, nothing written");
    assertEquals(Amount.of(BUDGET), admitted.payment().amount());
    assertTrue(admitted.payment().isHeld());
    assertEquals(account.publicKey(), admitted.account());
    assertEquals(table(), admitted.table());
    assertEquals(1, admitted.program().instructions().size());
    long start = table().prices().programBase().units() + table().prices().programPerByte().units() * program.length;
    assertEquals(start, admitted.meter().charged().total().units());
  }

  @Test
  void headerChecks_refuseWithTheFieldNamed() {
    refused(header().setPriceTableId(ByteString.copyFrom(new byte[31])), EndReason.MALFORMED_HEADER,
        "price_table_id is 31 bytes");
    refused(header().setProgram(ByteString.copyFrom(new byte[] {9})), EndReason.MALFORMED_HEADER, "program: MALFORMED");
    refused(header().setSignedWithdrawal(ByteString.copyFrom(new byte[5])), EndReason.MALFORMED_HEADER,
        "signed_withdrawal");
    refused(header().clearSignedWithdrawal(), EndReason.MALFORMED_HEADER,
        "signed_withdrawal and ticket are both empty: exactly one of them pays for the program");
    refused(header().setTicket(ByteString.copyFrom(new byte[5])), EndReason.MALFORMED_HEADER,
        "both signed_withdrawal and ticket are set");
    refused(header().setSealReceipt(true), EndReason.MALFORMED_HEADER,
        "seal_receipt is set on a program paid by a signed_withdrawal");
    refused(header().setDurationUnits(-1), EndReason.MALFORMED_HEADER, "duration_units 18446744073709551615");
    closing = true;
    refused(header(), EndReason.SHUTTING_DOWN, "shutting down");
  }

  @Test
  void priceTables_notIssuedOrExpired_areUnacceptable() {
    refused(header().setPriceTableId(ByteString.copyFrom(new byte[32])), EndReason.PRICE_TABLE_UNACCEPTABLE,
        "was not issued by this host");
    ProgramHeader.Builder old = header();
    clock.advance(Duration.ofHours(2));
    refused(old, EndReason.PRICE_TABLE_UNACCEPTABLE, "expired at");
  }

  @Test
  void aFullHost_refusesBeforeTakingTheBudget() {
    for (int i = 0; i < MAX_PROGRAMS; i++) {
      assertEquals(ProgramSlots.Grant.TAKEN, slots.take(SigningKey.generate().publicKey(), MAX_PROGRAMS, 1));
    }
    refused(header(), EndReason.BUSY, "maxConcurrentPrograms");
  }

  @Test
  void payments_refusedByPricing_giveTheSlotBack() {
    Withdrawal w = withdrawal(account, BUDGET);
    SignedWithdrawal forged = new SignedWithdrawal(w, withdrawal(account, BUDGET).sign(account).signature());
    refused(header(forged), EndReason.PAYMENT_FORGED, "BAD_SIGNATURE");
    refused(header(withdrawal(account, DEPOSIT + 1).sign(account)), EndReason.PAYMENT_UNPAYABLE, "INSUFFICIENT_BALANCE");
    SigningKey otherHost = SigningKey.generate();
    PriceTable foreign = new PriceTable(otherHost.publicKey(), table().validFrom(), table().validUntil(),
        table().prices(), table().limits());
    Withdrawal elsewhere = new Withdrawal(account.publicKey(), Amount.of(BUDGET), ++nonce,
        clock.instant().plusSeconds(60), foreign.id(), otherHost.publicKey());
    refused(header(elsewhere.sign(account)), EndReason.PAYMENT_INVALID, "WRONG_HOST");

    SignedWithdrawal once = withdrawal(account, BUDGET).sign(account);
    assertInstanceOf(Admission.Admitted.class, admission.decide(header(once).build()));
    refused(header(once), EndReason.PAYMENT_REPLAYED, "REPLAYED_NONCE");
  }

  @Test
  void anAccountAtItsCap_isRefusedBeforeItsBudgetIsTaken_andTheCapNamed() {
    HostConfig capped = config.withAdmission(1, 0.25, Duration.ofSeconds(5));
    Admission oneEach = new Admission(tables, new Cashier(holds, hostKey.publicKey(), clock),
        new RateLimiter(100, 100), capped, slots, sessions(holds), () -> false);
    assertInstanceOf(Admission.Admitted.class, oneEach.decide(header().build()));
    long before = balance();
    Admission.Refused refused = assertInstanceOf(Admission.Refused.class, oneEach.decide(header().build()));
    assertEquals(EndReason.ACCOUNT_BUSY, refused.reason());
    assertTrue(refused.message().contains("runs 1 programs, the host's maxProgramsPerAccount; nothing was taken"),
        refused.message());
    assertEquals(before, balance());
    assertEquals(1, slots.running(account.publicKey()));
  }

  @Test
  void anAccountOverItsRate_getsItsWholeBudgetBack() {
    for (int i = 0; i < config.programBurstPerAccount(); i++) {
      assertInstanceOf(Admission.Admitted.class, admission.decide(header().build())).payment().release();
      slots.release(account.publicKey());
    }
    SignedWithdrawal third = withdrawal(account, BUDGET).sign(account);
    refused(header(third), EndReason.RATE_EXCEEDED, "faster than 0.001 per second (burst 2); nothing was taken");
    // Nothing was written, so the withdrawal was never charged: presented again, it meets the rate again,
    // not a replay.
    refused(header(third), EndReason.RATE_EXCEEDED, "faster than 0.001 per second");
    assertEquals(0, holds.count(), "no hold is left behind");
  }

  @Test
  void theUncommittedRisk_boundsTheBudgetsHeld_andNamesItsLimit() {
    Reservations small = new Reservations(ledger, clock, Duration.ofHours(1), Amount.of(BUDGET + BUDGET / 2));
    Admission bounded = new Admission(tables, new Cashier(small, hostKey.publicKey(), clock),
        new RateLimiter(100, 100), config, slots, sessions(small), () -> false);
    Admission.Admitted first = assertInstanceOf(Admission.Admitted.class, bounded.decide(header().build()));
    Admission.Refused full = assertInstanceOf(Admission.Refused.class, bounded.decide(header().build()));
    assertEquals(EndReason.RISK_FULL, full.reason());
    assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, full.reason().code());
    assertTrue(full.message().contains("maxUncommittedRisk of 1500000 units; retry when programs end"), full.message());
    Admission.Refused never = assertInstanceOf(Admission.Refused.class,
        bounded.decide(header(withdrawal(account, 2 * BUDGET).sign(account)).build()));
    assertEquals(EndReason.PAYMENT_INVALID, never.reason());
    assertTrue(never.message().contains("LIMIT_EXCEEDED") && never.message().contains("withdraw less"),
        never.message());
    assertEquals(1, slots.running(), "the refusals hold no slot");
    first.payment().release();
    slots.release(account.publicKey());
    assertInstanceOf(Admission.Admitted.class, bounded.decide(header().build()));
  }

  @Test
  void aBudgetBelowTheStart_goesBackWhole() {
    refused(header(withdrawal(account, 1).sign(account)), EndReason.BUDGET_BELOW_START, "nothing was taken");
    assertEquals(0, holds.count());
  }

  @Test
  void everyExecutorReason_isSettledWithTheWireReasonOfItsName() {
    for (ProgramStoppedException.Reason reason : ProgramStoppedException.Reason.values()) {
      assertEquals(FailureReason.valueOf("FAILURE_REASON_" + reason.name()), EndReason.of(reason).wire());
    }
    for (EndReason reason : EndReason.values()) {
      boolean refusal = reason.ordinal() < EndReason.DATA.ordinal();
      assertEquals(refusal, reason.wire() == FailureReason.FAILURE_REASON_UNSPECIFIED, reason.name());
    }
  }
}
