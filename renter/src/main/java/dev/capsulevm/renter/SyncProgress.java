package dev.capsulevm.renter;

import dev.capsulevm.proofs.Hash;
import org.jspecify.annotations.Nullable;

/**
 * One progress report of {@link AdminClient#syncNow}: where session {@code capsuleIndex} (0-based) of
 * {@code capsuleCount} stands. The counters are the session's so far, both ways, reconciliation and
 * record bytes together. These figures are the operator's own host's account, so nothing here is
 * verified; they are only parsed strictly.
 *
 * @param capsuleOrNull the session's capsule; null when the host named none
 * @param phase the host's phase name ("quick check", "symbols", "bloom", "records", "done")
 * @param outcomeOrNull how the session ended; null while it runs
 * @param errorOrNull why it failed, when the host said
 */
public record SyncProgress(
    @Nullable Hash capsuleOrNull,
    int capsuleIndex,
    int capsuleCount,
    String phase,
    long bytesSent,
    long bytesReceived,
    long recordsSent,
    long recordsReceived,
    int roundTrips,
    @Nullable SyncOutcome outcomeOrNull,
    @Nullable String errorOrNull) {

  /** Whether this is the session's last report (it carries the outcome). */
  public boolean ended() {
    return outcomeOrNull != null;
  }

  /** Converts a wire message; uint fields above the signed range are refused, not wrapped. */
  static SyncProgress from(dev.capsulevm.proto.v1.SyncProgress m) {
    byte[] capsule = m.getCapsule().toByteArray();
    if (capsule.length != 0 && capsule.length != Hash.LENGTH) {
      throw new IllegalArgumentException("a capsule id is 32 bytes, got " + capsule.length);
    }
    return new SyncProgress(capsule.length == 0 ? null : Hash.copyOf(capsule),
        unsigned("capsule_index", m.getCapsuleIndex()), unsigned("capsule_count", m.getCapsuleCount()),
        m.getPhase(), unsigned("bytes_sent", m.getBytesSent()), unsigned("bytes_received", m.getBytesReceived()),
        unsigned("records_sent", m.getRecordsSent()), unsigned("records_received", m.getRecordsReceived()),
        unsigned("round_trips", m.getRoundTrips()), SyncOutcome.fromWireOrNull(m.getOutcome()),
        m.getError().isEmpty() ? null : m.getError());
  }

  static int unsigned(String field, int value) {
    if (value < 0) {
      throw new IllegalArgumentException(field + " out of range: " + Integer.toUnsignedString(value));
    }
    return value;
  }

  static long unsigned(String field, long value) {
    if (value < 0) {
      throw new IllegalArgumentException(field + " out of range: " + Long.toUnsignedString(value));
    }
    return value;
  }
}
