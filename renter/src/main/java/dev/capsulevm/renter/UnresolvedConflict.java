package dev.capsulevm.renter;

import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.proofs.Hash;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * How a run ends when an append met heads the renter does not know: nothing was committed, and whether
 * the other heads are real is not settled yet. {@link ProgramRun#result()} settles it with a verified
 * {@code Heads} program and throws {@link AppendConflictException} or {@link HostMisbehaviourException}
 * instead; this escapes only from a run without a client to settle it with.
 */
final class UnresolvedConflict extends RenterException {
  private static final long serialVersionUID = 1L;

  private final int appendIndex;
  private final transient List<Hash> extraHeads;
  private final transient @Nullable Receipt receiptOrNull;

  /**
   * @param receiptOrNull the verified receipt of the program whose commit the renter refused, or null when
   *     it cancelled the program (more instructions followed the append)
   */
  UnresolvedConflict(int appendIndex, List<Hash> extraHeads, @Nullable Receipt receiptOrNull) {
    super("append conflict, not yet checked: output " + appendIndex + " leaves heads " + extraHeads
        + " besides the ones the renter expects; nothing was committed");
    this.appendIndex = appendIndex;
    this.extraHeads = List.copyOf(extraHeads);
    this.receiptOrNull = receiptOrNull;
  }

  int appendIndex() {
    return appendIndex;
  }

  List<Hash> extraHeads() {
    return extraHeads;
  }

  @Nullable Receipt receiptOrNull() {
    return receiptOrNull;
  }
}
