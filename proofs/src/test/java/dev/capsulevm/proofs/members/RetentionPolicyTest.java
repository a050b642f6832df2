package dev.capsulevm.proofs.members;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.merkle.Merkle;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The retention rule a reader checks from headers alone, and the dropped form replication carries. */
class RetentionPolicyTest {
  @Test
  void keepHeightsLetsDropWhenTheWitnessIsNHeightsHigher() {
    RetentionPolicy keep3 = RetentionPolicy.keepHeights(3);
    assertTrue(keep3.letsDrop(5, 0, 8, 0));
    assertTrue(keep3.letsDrop(5, 0, 9, 0));
    assertFalse(keep3.letsDrop(5, 0, 7, 0), "the newest 3 heights 5..7 are kept");
    assertFalse(keep3.letsDrop(5, 0, 4, 0), "a lower witness never lets anything go");
    assertFalse(RetentionPolicy.NONE.letsDrop(1, 0, Long.MAX_VALUE, Long.MAX_VALUE));
    assertTrue(RetentionPolicy.keepHeights(Long.MAX_VALUE - 1).letsDrop(1, 0, Long.MAX_VALUE, 0));
  }

  @Test
  void keepMillisComparesTimestampsAndNeedsAWitnessAtLeastAsHigh() {
    RetentionPolicy keep1s = RetentionPolicy.keepMillis(1000);
    assertTrue(keep1s.letsDrop(5, 10_000, 5, 11_000), "a fork sibling at the same height may witness");
    assertFalse(keep1s.letsDrop(5, 10_000, 9, 10_999));
    assertFalse(keep1s.letsDrop(5, 10_000, 4, 20_000), "a lower witness never lets anything go");
    assertFalse(keep1s.letsDrop(5, 10_000, 9, 9_000), "a witness older than the record");
    assertTrue(keep1s.letsDrop(5, Long.MIN_VALUE, 9, Long.MAX_VALUE), "a difference past 2^63 - 1");
  }

  @Test
  void aDroppedBodyIsCheckedByItsLeafHashesAndOnlyForDataRecords() throws Exception {
    V2Capsule capsule = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody full = capsule.data(TestCapsule.WRITER, List.of(capsule.id()), "payload");
    List<Hash> leaves = new ArrayList<>();
    for (byte[] payload : full.payloads()) {
      leaves.add(Merkle.leafHash(payload));
    }
    Hash witness = full.hash();
    RecordWithBody dropped = RecordWithBody.dropped(full.record(), leaves, witness);
    assertTrue(dropped.isDropped());
    assertEquals(0, dropped.payloads().size());
    assertEquals(1, dropped.subRecordCount());
    capsule.validator.validateDetached(dropped);

    RecordWithBody wrong = RecordWithBody.dropped(full.record(), List.of(Merkle.leafHash(new byte[] {1})), witness);
    VerificationException e = assertThrows(VerificationException.class, () -> capsule.validator.validateDetached(wrong));
    assertEquals(VerificationException.Failure.SUB_RECORD_ROOT_MISMATCH, e.failure());

    RecordWithBody change = capsule.change(TestCapsule.CREATOR, List.of(capsule.id()),
        new MemberChange.SetRetention(RetentionPolicy.keepHeights(2)));
    RecordWithBody droppedChange = RecordWithBody.dropped(change.record(), change.tree(), witness);
    VerificationException never = assertThrows(VerificationException.class,
        () -> capsule.validator.validateDetached(droppedChange));
    assertTrue(never.getMessage().contains("a membership record is never dropped"), never.getMessage());
  }
}
