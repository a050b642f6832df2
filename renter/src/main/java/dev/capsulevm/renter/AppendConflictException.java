package dev.capsulevm.renter;

import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.proofs.capsule.Record;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Another writer appended to the capsule since this renter last saw its heads: the append's output
 * listed the heads the renter expected plus others, the renter refused the commit (nothing was
 * written), and a verified {@code Heads} program showed that the others are real records of the capsule,
 * heads or below them. Not misbehaviour: rebuild the records on {@link #currentHeads()} and append
 * again ({@link CapsuleWriter} does, up to {@link RenterOptions#appendRetries()} times).
 */
public final class AppendConflictException extends RenterException {
  private static final long serialVersionUID = 1L;

  private final transient List<Record> currentHeads;
  private final transient @Nullable Receipt receiptOrNull;

  public AppendConflictException(List<Record> currentHeads, @Nullable Receipt receiptOrNull) {
    super("append conflict: another writer appended first; nothing was committed; the capsule's heads are now "
        + currentHeads.stream().map(Record::hash).toList());
    this.currentHeads = List.copyOf(currentHeads);
    this.receiptOrNull = receiptOrNull;
  }

  /** The capsule's heads, verified (each signed by one of its writers), to build the next append on. */
  public List<Record> currentHeads() {
    return currentHeads;
  }

  /**
   * The verified receipt of the program whose commit the renter refused (what it cost), or null when the
   * renter cancelled it because instructions followed the append.
   */
  public @Nullable Receipt receiptOrNull() {
    return receiptOrNull;
  }
}
