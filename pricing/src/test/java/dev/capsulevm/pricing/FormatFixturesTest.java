package dev.capsulevm.pricing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The worked hex examples of docs/FORMAT.md (section "Pricing objects"), from fixed keys (host seed 32 × 0x01, account
 * seed 32 × 0x02); a change to any encoding breaks this test before it silently breaks the document.
 */
class FormatFixturesTest {
  static final String PRICE_TABLE =
      "018a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c000000006b49d200000000006b49e0"
      + "1000000000000003e800000000000000020000000000001388000000000000000300000000000007d000000000000000"
      + "0400000000000001f4000000000000000100000000000003200000000000000002000000000000006400000000000000"
      + "01000000000000012c000000000000000100000000000000320000000000000001000000000000000100000000000000"
      + "02000000000000000100000000000000050001000000000100001000000000004000000010000000003b9aca00cec7cc"
      + "18eaff493af1dc6481260c11f34e98eba7a7f2fa1afa5bd8b48eb895c7d9ff1d879db382f4225740cff04e48f1f97475"
      + "61c51b805a30706821a65f9806";
  static final String PRICE_TABLE_ID =
      "cd66e5b2a85afc8e984f508621c6b112485c651c7e67e89dfb79bb2ee1741aeb";
  static final String WITHDRAWAL =
      "018139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394000000000001117000000000000000"
      + "01000000006b49d458cd66e5b2a85afc8e984f508621c6b112485c651c7e67e89dfb79bb2ee1741aeb8a88e3dd7409f1"
      + "95fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5cb65f8972cba5266dfb130b4e2839a3fc2adbf3089183a4"
      + "05b7c064a25989eecc4d9d36affd8996755ccbf556f51f5aa050d9e7f380a8176687a9fbfd9744a405";
  static final String RECEIPT =
      "01aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaacd66e5b2a85afc8e984f508621c6b1"
      + "12485c651c7e67e89dfb79bb2ee1741aeb00000000000111700000000003000000000000051400000000000002980000"
      + "0000000026fa0000000000000a440000000000001040000000000000c3500000000000000ca218d0dd5071c57e070f91"
      + "6717d95c3e6ae3ab58c40d442a24b7eb0b82c317a9da08dad74809dd18c00e7b504bce66c9b883cf42f8562f6c22a8fa"
      + "3dc03df16b05";

  static SignedPriceTable priceTable() {
    return Fixtures.exampleTable().sign(Fixtures.HOST);
  }

  static SignedWithdrawal withdrawal() {
    PriceTable table = Fixtures.exampleTable();
    return new Withdrawal(Fixtures.RENTER.publicKey(), Amount.of(70_000), 1, Fixtures.VALID_FROM.plusSeconds(600),
        table.id(), Fixtures.HOST.publicKey()).sign(Fixtures.RENTER);
  }

  static SignedReceipt receipt() throws Exception {
    byte[] aa = new byte[32];
    Arrays.fill(aa, (byte) 0xaa);
    ProgramShape program = Fixtures.exampleProgram();
    Meter meter = Meter.open(Fixtures.exampleTable(), Hash.copyOf(aa), Amount.of(70_000), 200, 10, a -> {});
    meter.chargeUpload(1300);
    long[] responses = {80, 520, 64};
    for (int i = 0; i < 3; i++) {
      meter.chargeInstruction(program.instructions().get(i));
      meter.chargeDownload(responses[i]);
    }
    return meter.close().sign(Fixtures.HOST);
  }

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  @Test
  void domainTagsAreTheDocumentedOnes() {
    assertEquals(0x30, Domain.PRICE_TABLE_SIGNATURE.tag());
    assertEquals(0x31, Domain.WITHDRAWAL_SIGNATURE.tag());
    assertEquals(0x32, Domain.RECEIPT_SIGNATURE.tag());
    assertEquals(0x33, Domain.PRICE_TABLE_ID.tag());
  }

  @Test
  void encodingsMatchTheDocument() throws Exception {
    assertEquals(PRICE_TABLE, hex(priceTable().encode()));
    assertEquals(PRICE_TABLE_ID, priceTable().table().id().toHex());
    assertEquals(WITHDRAWAL, hex(withdrawal().encode()));
    assertEquals(RECEIPT, hex(receipt().encode()));
  }
}
