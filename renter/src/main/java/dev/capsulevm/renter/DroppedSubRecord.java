package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.members.RetentionPolicy;
import java.util.Objects;

/**
 * A verified answer that a sub-record's payload was dropped under its capsule's retention policy
 * (docs/PROTOCOL.md, "Retention"): not a failure and not misbehaviour, but what the capsule's
 * superadmin asked for. The renter checked the leaf hash's inclusion in the record, and that the witness
 * (a record proven from the same anchor) and the policy before it let the payload go.
 *
 * @param record the header of the record that held the sub-record
 * @param index the sub-record's index
 * @param leafHash {@code H(0x00 || payload)}: what the payload was, without it
 * @param witness the header of the record whose height or timestamp let it go
 * @param policy the retention policy of the member state before the witness
 */
public record DroppedSubRecord(RecordHeader record, long index, Hash leafHash, RecordHeader witness,
    RetentionPolicy policy) {
  public DroppedSubRecord {
    Objects.requireNonNull(record, "record");
    Objects.requireNonNull(leafHash, "leafHash");
    Objects.requireNonNull(witness, "witness");
    Objects.requireNonNull(policy, "policy");
  }

  /** One line for people: which sub-record, under which policy, by which witness. */
  public String describe() {
    return "sub-record " + index + " of record " + record.hash().toHex() + " (height " + record.height()
        + ") was dropped under the capsule's retention policy (" + describe(policy) + ", witness "
        + witness.hash().toHex() + " at height " + witness.height() + ")";
  }

  /** The policy in words: "keep the newest N heights", "keep records newer than D ms", "keep everything". */
  public static String describe(RetentionPolicy policy) {
    return switch (policy.mode()) {
      case NONE -> "keep everything";
      case KEEP_HEIGHTS -> "keep the newest " + policy.value() + " heights";
      case KEEP_MILLIS -> "keep records newer than " + policy.value() + " ms";
    };
  }
}
