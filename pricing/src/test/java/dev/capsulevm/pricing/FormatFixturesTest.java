package dev.capsulevm.pricing;

import static dev.capsulevm.pricing.FormatDocument.field;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.proofs.Domain;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The price table and withdrawal examples of docs/FORMAT.md (section "Pricing objects"), from fixed keys
 * (host seed 32 × 0x01, account seed 32 × 0x02): each byte table and hex block is regenerated from the
 * code and must appear verbatim in the document, so a change to either encoding breaks this test before
 * it silently breaks the document. Run {@link #main} to print them afresh. The receipt, transcript and
 * balance statement examples are program's {@code FormatExamplesTest}.
 */
class FormatFixturesTest {
  static SignedPriceTable priceTable() {
    return Fixtures.exampleTable().sign(Fixtures.HOST);
  }

  /** The withdrawal paying {@code amount} with {@code nonce}, expiring ten minutes into the table's window. */
  public static SignedWithdrawal withdrawal(long amount, long nonce) {
    PriceTable table = Fixtures.exampleTable();
    return new Withdrawal(Fixtures.RENTER.publicKey(), Amount.of(amount), nonce, Fixtures.VALID_FROM.plusSeconds(600),
        table.id(), Fixtures.HOST.publicKey()).sign(Fixtures.RENTER);
  }

  /** The document's fragments, by what they show. */
  static Map<String, String> fragments() {
    Map<String, String> f = new LinkedHashMap<>();
    byte[] table = priceTable().encode();
    List<FormatDocument.Field> fields = new ArrayList<>(List.of(
        field(1, "version = 2"),
        field(32, "hostKey (Ed25519)"),
        field(8, "validFrom, seconds since 1970"),
        field(8, "validUntil, seconds since 1970 (exclusive)"),
        field(8, "programBase"),
        field(8, "programPerByte")));
    for (InstructionKind kind : InstructionKind.values()) {
      fields.add(field(8, kind + ".base"));
      fields.add(field(8, kind + ".perByte"));
    }
    fields.addAll(List.of(
        field(8, "uploadPerByte"),
        field(8, "downloadPerByte"),
        field(8, "memoryPerByteTimeUnit"),
        field(8, "storagePerByteDurationUnit"),
        field(4, "maxProgramBytes (u32)"),
        field(4, "maxInstructions (u32)"),
        field(4, "maxRecordBytes (u32)"),
        field(4, "maxSubRecordsPerRecord (u32)"),
        field(4, "maxConcurrentPrograms (u32)"),
        field(8, "maxBalance"),
        field(64, "signature: Ed25519 by hostKey over 0x30 ‖ bytes 0..252")));
    f.put("price table id", "its id is\n`" + priceTable().table().id().toHex() + "`.");
    f.put("price table rows", FormatDocument.rows(table, fields));
    f.put("price table encoding", "Whole encoding:\n\n" + FormatDocument.hexBlock(table));

    byte[] withdrawal = withdrawal(70_000, 1).encode();
    f.put("withdrawal rows", FormatDocument.rows(withdrawal, List.of(
        field(1, "version = 1"),
        field(32, "account (Ed25519 public key)"),
        field(8, "amount"),
        field(8, "nonce (opaque 64 bits)"),
        field(8, "expiry, seconds since 1970 (exclusive)"),
        field(32, "priceTableId"),
        field(32, "hostKey"),
        field(64, "signature: Ed25519 by account over 0x31 ‖ bytes 0..120"))));
    f.put("withdrawal encoding", "Whole encoding:\n\n" + FormatDocument.hexBlock(withdrawal));
    return f;
  }

  @Test
  void domainTagsAreTheDocumentedOnes() {
    assertEquals(0x30, Domain.PRICE_TABLE_SIGNATURE.tag());
    assertEquals(0x31, Domain.WITHDRAWAL_SIGNATURE.tag());
    assertEquals(0x32, Domain.RECEIPT_SIGNATURE.tag());
    assertEquals(0x33, Domain.PRICE_TABLE_ID.tag());
    assertEquals(0x37, Domain.BALANCE_STATEMENT_SIGNATURE.tag());
  }

  @Test
  void encodingsMatchTheDocument() {
    assertEquals(317, priceTable().encode().length);
    fragments().forEach(FormatDocument::assertContains);
  }

  public static void main(String[] args) {
    fragments().forEach((what, text) -> System.out.println("---- " + what + "\n" + text));
  }
}
