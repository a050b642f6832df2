package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReceiptTest {
  private final PriceTable table = Fixtures.exampleTable();
  private final ProgramShape program = Fixtures.exampleProgram();
  private final Hash id = Fixtures.programId("worked example");
  private final Hash capsule = Fixtures.programId("capsule");
  private final List<Hash> heads = ascending(Fixtures.programId("head 1"), Fixtures.programId("head 2"));

  /** The worked example's completed run, committing {@link #heads}. */
  private Receipt completed() throws Exception {
    Meter meter = Meter.open(table, id, capsule, Amount.of(70_000), 200, 10, (a, p) -> { }, Fixtures.CLOCK);
    meter.chargeUpload(1300);
    long[] responses = {80, 520, 64};
    for (int i = 0; i < 3; i++) {
      meter.chargeInstruction(program.instructions().get(i));
      meter.chargeOutput(responses[i], Fixtures.leaf(i));
    }
    return meter.closeThrough(heads, (a, p) -> { });
  }

  /** The worked example's run failing at PROVE, after instruction 0's output was sent. */
  private Receipt failed() throws Exception {
    Meter meter = Meter.open(table, id, capsule, Amount.of(70_000), 200, 10, (a, p) -> { }, Fixtures.CLOCK);
    meter.chargeUpload(1300);
    meter.chargeInstruction(program.instructions().get(0));
    meter.chargeOutput(80, Fixtures.leaf(0));
    meter.chargeInstruction(program.instructions().get(1));
    meter.fail(1, 4, "no proof from the anchor — not held");
    return meter.close();
  }

  private RenterCheck.Observed observedCompleted() {
    return new RenterCheck.Observed(1300, 664, 3, Fixtures.transcriptRoot(3), new Receipt.Completed(heads));
  }

  private Receipt checkCompleted(Receipt r) throws PricingException {
    return RenterCheck.check(r.sign(Fixtures.HOST), table, program, id, capsule, Amount.of(70_000),
        observedCompleted());
  }

  // Round trips and the renter's check.

  @Test
  void roundTripsAndTheRenterAgreesToTheUnit() throws Exception {
    SignedReceipt signed = completed().sign(Fixtures.HOST);
    byte[] bytes = signed.encode();
    assertEquals(Receipt.FIXED_BODY_LENGTH + 2 * 32 + 64, bytes.length);
    SignedReceipt parsed = SignedReceipt.parse(bytes);
    assertEquals(signed, parsed);
    assertArrayEquals(bytes, parsed.encode());
    Receipt checked = checkCompleted(parsed.receipt());
    assertEquals(66_766, checked.finalCost().units());
    assertEquals(heads, checked.committedHeads());
  }

  @Test
  void aFailedReceiptRoundTripsAndTheRenterAgrees() throws Exception {
    Receipt r = failed();
    SignedReceipt parsed = SignedReceipt.parse(r.sign(Fixtures.HOST).encode());
    assertEquals(r, parsed.receipt());
    assertEquals("no proof from the anchor — not held", parsed.receipt().failureMessage());
    RenterCheck.Observed observed = new RenterCheck.Observed(1300, 80, 1, Fixtures.transcriptRoot(1),
        new Receipt.Failed(1, 4, "no proof from the anchor — not held"));
    RenterCheck.check(parsed, table, program, id, capsule, Amount.of(70_000), observed);
  }

  @Test
  void receiptsWithoutCapsuleOrFailingOutsideAnInstructionRoundTrip() throws Exception {
    for (Receipt r : List.of(
        with(completed(), null, Receipt.Completed.NOTHING_COMMITTED),
        with(failed(), null, new Receipt.Failed(Receipt.NO_INSTRUCTION, 255, "")),
        with(failed(), capsule, new Receipt.Failed(Integer.MAX_VALUE, 1, "\uD83D\uDE00 ".repeat(200))))) {
      assertEquals(r, SignedReceipt.parse(r.sign(Fixtures.HOST).encode()).receipt());
    }
  }

  @Test
  void theRenterNamesEveryFieldThatDiffers() throws Exception {
    Receipt honest = completed();
    RenterCheck.Observed o = observedCompleted();
    Amount budget = Amount.of(70_000);
    assertMismatch("programId", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program,
        Fixtures.programId("other"), capsule, budget, o));
    assertMismatch("capsuleId", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program, id,
        null, budget, o));
    assertMismatch("budget", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program, id,
        capsule, Amount.of(70_001), o));
    assertMismatch("uploadBytes", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1299, 664, 3, o.transcriptRoot(), o.end())));
    assertMismatch("downloadBytes", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1300, 663, 3, o.transcriptRoot(), o.end())));
    assertMismatch("outputCount", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1300, 664, 2, o.transcriptRoot(), o.end())));
    assertMismatch("transcriptRoot", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1300, 664, 3, Fixtures.transcriptRoot(2), o.end())));
    assertMismatch("committedHeads", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1300, 664, 3, o.transcriptRoot(), new Receipt.Completed(
            heads.subList(0, 1)))));
    assertMismatch("status", () -> RenterCheck.check(honest.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1300, 664, 3, o.transcriptRoot(), new Receipt.Failed(2, 4, ""))));
    Receipt failed = failed();
    RenterCheck.Observed f = new RenterCheck.Observed(1300, 80, 1, Fixtures.transcriptRoot(1),
        new Receipt.Failed(1, 4, "no proof from the anchor — not held"));
    assertMismatch("failedInstruction", () -> RenterCheck.check(failed.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1300, 80, 1, f.transcriptRoot(),
            new Receipt.Failed(0, 4, "no proof from the anchor — not held"))));
    assertMismatch("failureReason", () -> RenterCheck.check(failed.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1300, 80, 1, f.transcriptRoot(),
            new Receipt.Failed(1, 5, "no proof from the anchor — not held"))));
    assertMismatch("failureMessage", () -> RenterCheck.check(failed.sign(Fixtures.HOST), table, program, id,
        capsule, budget, new RenterCheck.Observed(1300, 80, 1, f.transcriptRoot(), new Receipt.Failed(1, 4, "x"))));
  }

  @Test
  void aHostThatOverchargesIsCaughtEvenWithAValidSignature() throws Exception {
    Receipt honest = completed();
    CostBreakdown c = honest.cost();
    // One unit more bandwidth, one unit less refund: still adds up to the budget, still signed.
    Receipt padded = new Receipt(honest.hostKey(), honest.issuedAt(), honest.programId(), honest.priceTableId(),
        honest.capsuleIdOrNull(), honest.budget(), honest.instructionsCharged(), honest.uploadBytes(),
        honest.downloadBytes(),
        new CostBreakdown(c.instruction(), c.bandwidth().plus(Amount.of(1)), c.memory(), c.storage()),
        honest.refund().minus(Amount.of(1)), honest.outputCount(), honest.transcriptRoot(), honest.end());
    assertMismatch("cost.bandwidth", () -> checkCompleted(padded));
  }

  @Test
  void aReceiptNamingAnotherHostOrSignedByAnotherKeyIsRefused() throws Exception {
    Receipt honest = completed();
    // Signed by a key other than the one the receipt names.
    SignedReceipt forged = new SignedReceipt(honest, Fixtures.OTHER.sign(Domain.RECEIPT_SIGNATURE, honest.body()));
    assertEquals(PricingException.Reason.BAD_SIGNATURE,
        assertThrows(PricingException.class, () -> forged.verify(Fixtures.HOST.publicKey())).reason());
    // Naming and signed by another host: valid in itself, but not this host's.
    Receipt other = new Receipt(Fixtures.OTHER.publicKey(), honest.issuedAt(), honest.programId(),
        honest.priceTableId(), honest.capsuleIdOrNull(), honest.budget(), honest.instructionsCharged(),
        honest.uploadBytes(), honest.downloadBytes(), honest.cost(), honest.refund(), honest.outputCount(),
        honest.transcriptRoot(), honest.end());
    SignedReceipt byOther = other.sign(Fixtures.OTHER);
    byOther.verify(Fixtures.OTHER.publicKey());
    assertEquals(PricingException.Reason.WRONG_HOST,
        assertThrows(PricingException.class, () -> byOther.verify(Fixtures.HOST.publicKey())).reason());
    assertEquals(PricingException.Reason.WRONG_HOST, assertThrows(PricingException.class,
        () -> RenterCheck.check(byOther, table, program, id, capsule, Amount.of(70_000), observedCompleted()))
        .reason());
    assertThrows(IllegalArgumentException.class, () -> honest.sign(Fixtures.OTHER));
  }

  @Test
  void flippingAnyByteFailsParsingOrVerification() throws Exception {
    for (Receipt r : List.of(completed(), failed())) {
      Tamper.everyByteBreaks(r.sign(Fixtures.HOST).encode(),
          bytes -> SignedReceipt.parse(bytes).verify(Fixtures.HOST.publicKey()));
    }
  }

  // Values that have no encoding cannot be built.

  @Test
  void inconsistentReceiptsCannotBeBuilt() throws Exception {
    Receipt r = completed();
    CostBreakdown c = r.cost();
    assertThrows(IllegalArgumentException.class, () -> new Receipt(r.hostKey(), r.issuedAt(), id, id, capsule,
        r.budget(), 3, 0, 0, c, r.refund().plus(Amount.of(1)), 0, r.transcriptRoot(), r.end()));
    // A failed receipt keeping its storage part.
    assertThrows(IllegalArgumentException.class, () -> new Receipt(r.hostKey(), r.issuedAt(), id, id, capsule,
        r.budget(), 3, 0, 0, c, r.refund(), 0, r.transcriptRoot(), new Receipt.Failed(0, 4, "")));
    assertThrows(IllegalArgumentException.class, () -> with(failed(), null, new Receipt.Completed(heads)));
    assertThrows(IllegalArgumentException.class, () -> new Receipt(r.hostKey(), Instant.ofEpochMilli(5).plusNanos(1),
        id, id, capsule, r.budget(), 3, 0, 0, c, r.refund(), 0, r.transcriptRoot(), r.end()));
    assertThrows(IllegalArgumentException.class, () -> new Receipt(r.hostKey(), Instant.ofEpochMilli(-1),
        id, id, capsule, r.budget(), 3, 0, 0, c, r.refund(), 0, r.transcriptRoot(), r.end()));
    assertThrows(IllegalArgumentException.class, () -> new Receipt(r.hostKey(), r.issuedAt(), id, id,
        Hash.copyOf(new byte[32]), r.budget(), 3, 0, 0, c, r.refund(), 0, r.transcriptRoot(), r.end()));
    assertThrows(IllegalArgumentException.class, () -> new Receipt(r.hostKey(), r.issuedAt(), id, id, capsule,
        r.budget(), 3, 0, 0, c, r.refund(), 4, r.transcriptRoot(), r.end()));
  }

  @Test
  void endsWithoutAnEncodingCannotBeBuilt() {
    Hash a = heads.get(0);
    Hash b = heads.get(1);
    assertThrows(IllegalArgumentException.class, () -> new Receipt.Completed(List.of(b, a)));
    assertThrows(IllegalArgumentException.class, () -> new Receipt.Completed(List.of(a, a)));
    assertThrows(IllegalArgumentException.class, () -> new Receipt.Failed(-2, 4, ""));
    assertThrows(IllegalArgumentException.class, () -> new Receipt.Failed(0, 0, ""));
    assertThrows(IllegalArgumentException.class, () -> new Receipt.Failed(0, 256, ""));
    assertThrows(IllegalArgumentException.class, () -> new Receipt.Failed(0, 4, "x".repeat(1025)));
    assertThrows(IllegalArgumentException.class, () -> new Receipt.Failed(0, 4, "lone \uD800 surrogate"));
    new Receipt.Failed(0, 4, "x".repeat(1024));
  }

  @Test
  void truncationKeepsWholeCharactersWithinTheLimitAndReplacesLoneSurrogates() {
    assertEquals("short", Receipt.truncateMessage("short"));
    assertEquals("x".repeat(1024), Receipt.truncateMessage("x".repeat(2000)));
    String emoji = "\uD83D\uDE00"; // 4 UTF-8 bytes
    String cut = Receipt.truncateMessage("xx" + emoji.repeat(300));
    assertEquals("xx" + emoji.repeat(255), cut); // 2 + 4 × 255 = 1022; one more would be 1026
    assertEquals("a\uFFFDb", Receipt.truncateMessage("a\uDC00b"));
    assertEquals("a\uFFFD", Receipt.truncateMessage("a\uD800"));
    new Receipt.Failed(0, 4, Receipt.truncateMessage("é".repeat(600) + "\uD800"));
  }

  // Parse rules: each one refuses a body that breaks it (docs/FORMAT.md, "Receipt").

  @Test
  void parseRefusesAnotherVersion() {
    for (int version : new int[] {0, 1, 3}) {
      Body b = Body.completed();
      b.version = version;
      assertMalformed(b);
    }
  }

  @Test
  void parseRefusesCostAndRefundThatDoNotAddUpToTheBudget() {
    Body b = Body.completed();
    b.refund++;
    assertMalformed(b);
  }

  @Test
  void parseRefusesAFailedReceiptWithAStoragePart() {
    Body b = Body.failed();
    b.storage = 1;
    b.refund--;
    assertMalformed(b);
  }

  @Test
  void parseRefusesACompletedReceiptWithAFailureReason() {
    Body b = Body.completed();
    b.reason = 4;
    assertMalformed(b);
  }

  @Test
  void parseRefusesACompletedReceiptWithAFailedInstruction() {
    Body b = Body.completed();
    b.failedInstruction = 0;
    assertMalformed(b);
  }

  @Test
  void parseRefusesACompletedReceiptWithAMessage() {
    Body b = Body.completed();
    b.message = bytes("done");
    assertMalformed(b);
  }

  @Test
  void parseRefusesAFailedReceiptWithReasonZero() {
    Body b = Body.failed();
    b.reason = 0;
    assertMalformed(b);
  }

  @Test
  void parseRefusesAFailedReceiptWithHeads() {
    Body b = Body.failed();
    b.heads = List.of(Fixtures.programId("head"));
    assertMalformed(b);
  }

  @Test
  void parseRefusesHeadsWithoutACapsule() {
    Body b = Body.completed();
    b.capsule = Hash.copyOf(new byte[32]);
    assertMalformed(b);
  }

  @Test
  void parseRefusesMoreOutputsThanChargedInstructions() {
    Body b = Body.completed();
    b.outputCount = b.instructionsCharged + 1;
    assertMalformed(b);
  }

  @Test
  void parseRefusesHeadsThatAreNotStrictlyAscending() {
    Body b = Body.completed();
    b.heads = List.of(b.heads.get(1), b.heads.get(0));
    assertMalformed(b);
    b.heads = List.of(b.heads.get(0), b.heads.get(0));
    assertMalformed(b);
  }

  @Test
  void parseRefusesAMessageOverTheLimit() {
    Body b = Body.failed();
    b.message = bytes("x".repeat(1025));
    assertMalformed(b);
    b.message = bytes("x".repeat(1024));
    b.parse();
  }

  @Test
  void parseRefusesAMessageThatIsNotUtf8() {
    byte[][] bad = {
        {(byte) 0xff}, // never in UTF-8
        {(byte) 0xc0, (byte) 0x80}, // overlong NUL
        {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, // an encoded surrogate
        {(byte) 0xe2, (byte) 0x82}, // a truncated sequence
    };
    for (byte[] message : bad) {
      Body b = Body.failed();
      b.message = message;
      assertMalformed(b);
    }
  }

  @Test
  void parseRefusesAnyOtherLength() throws Exception {
    byte[] body = Body.completed().bytes();
    assertMalformed(Arrays.copyOf(body, body.length + 1));
    assertMalformed(Arrays.copyOf(body, body.length - 1));
    byte[] signed = completed().sign(Fixtures.HOST).encode();
    for (byte[] bad : new byte[][] {Arrays.copyOf(signed, signed.length + 1), Arrays.copyOf(signed, signed.length - 1),
        Arrays.copyOf(signed, 248), Arrays.copyOf(signed, 250), new byte[0]}) {
      VerificationException e = assertThrows(VerificationException.class, () -> SignedReceipt.parse(bad));
      assertEquals(VerificationException.Failure.MALFORMED_ENCODING, e.failure());
    }
  }

  @Test
  void parseRefusesAStatusOtherThanCompletedOrFailed() {
    Body b = Body.completed();
    b.status = 2;
    assertMalformed(b);
  }

  @Test
  void parseRefusesNumbersWithTheirTopBitSet() {
    Body b = Body.completed();
    b.issuedAt = -1;
    assertMalformed(b);
    b = Body.completed();
    b.instructionsCharged = Integer.MIN_VALUE;
    assertMalformed(b);
    b = Body.completed();
    b.uploadBytes = Long.MIN_VALUE;
    assertMalformed(b);
    b = Body.failed();
    b.failedInstruction = Integer.MIN_VALUE; // 2^31: neither an index below 2^31 nor 0xFFFFFFFF
    assertMalformed(b);
    b = Body.failed();
    b.failedInstruction = -2; // 0xFFFFFFFE
    assertMalformed(b);
  }

  @Test
  void parseRefusesAHostKeyThatIsNotACurvePoint() {
    Body b = Body.completed();
    b.hostKey = new byte[32];
    b.hostKey[0] = 2; // y = 2 has no x on the curve
    assertMalformed(b);
  }

  @Test
  void theBodyBuilderMatchesTheCode() throws Exception {
    assertEquals(Body.completed().parse(), Receipt.parseBody(Body.completed().bytes()));
    assertTrue(Body.failed().parse().failed());
  }

  // Helpers.

  private static Receipt with(Receipt r, Hash capsuleIdOrNull, Receipt.End end) {
    CostBreakdown cost = end instanceof Receipt.Failed ? r.cost().withoutStorage() : r.cost();
    return new Receipt(r.hostKey(), r.issuedAt(), r.programId(), r.priceTableId(), capsuleIdOrNull, r.budget(),
        r.instructionsCharged(), r.uploadBytes(), r.downloadBytes(), cost, r.budget().minus(cost.total()),
        r.outputCount(), r.transcriptRoot(), end);
  }

  private interface Check {
    void run() throws Exception;
  }

  private static void assertMismatch(String field, Check check) {
    PricingException e = assertThrows(PricingException.class, check::run);
    assertEquals(PricingException.Reason.RECEIPT_MISMATCH, e.reason());
    assertTrue(e.getMessage().contains("receipt " + field + " is"), e.getMessage());
  }

  private static void assertMalformed(Body b) {
    assertMalformed(b.bytes());
  }

  private static void assertMalformed(byte[] body) {
    VerificationException e = assertThrows(VerificationException.class, () -> Receipt.parseBody(body));
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING, e.failure());
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static List<Hash> ascending(Hash a, Hash b) {
    return a.compareTo(b) < 0 ? List.of(a, b) : List.of(b, a);
  }

  /** A receipt body field by field, any of which a test may set to a value the rules refuse. */
  private static final class Body {
    int version = 2;
    byte[] hostKey = Fixtures.HOST.publicKey().toByteArray();
    long issuedAt = 1_800_000_060_500L;
    Hash programId = Fixtures.programId("program");
    Hash tableId = Fixtures.programId("table");
    Hash capsule = Fixtures.programId("capsule");
    long budget = 1000;
    int status;
    int instructionsCharged = 2;
    long uploadBytes = 300;
    long downloadBytes = 100;
    long instruction = 400;
    long bandwidth = 500;
    long memory = 20;
    long storage = 30;
    long refund = 50;
    int outputCount = 2;
    Hash transcriptRoot = Fixtures.transcriptRoot(2);
    int failedInstruction = -1;
    int reason;
    List<Hash> heads = ascending(Fixtures.programId("head 1"), Fixtures.programId("head 2"));
    byte[] message = new byte[0];

    static Body completed() {
      return new Body();
    }

    static Body failed() {
      Body b = new Body();
      b.status = 1;
      b.refund += b.storage;
      b.storage = 0;
      b.failedInstruction = 1;
      b.reason = 4;
      b.heads = List.of();
      b.message = ReceiptTest.bytes("not found");
      return b;
    }

    byte[] bytes() {
      ByteBuffer out = ByteBuffer.allocate(251 + 32 * heads.size() + message.length);
      out.put((byte) version).put(hostKey).putLong(issuedAt).put(programId.toByteArray())
          .put(tableId.toByteArray()).put(capsule.toByteArray()).putLong(budget).put((byte) status)
          .putInt(instructionsCharged).putLong(uploadBytes).putLong(downloadBytes).putLong(instruction)
          .putLong(bandwidth).putLong(memory).putLong(storage).putLong(refund).putInt(outputCount)
          .put(transcriptRoot.toByteArray()).putInt(failedInstruction).put((byte) reason)
          .putShort((short) heads.size());
      for (Hash head : heads) {
        out.put(head.toByteArray());
      }
      out.putShort((short) message.length).put(message);
      return out.array();
    }

    Receipt parse() {
      try {
        return Receipt.parseBody(bytes());
      } catch (VerificationException e) {
        throw new AssertionError(e);
      }
    }
  }
}
