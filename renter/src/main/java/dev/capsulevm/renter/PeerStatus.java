package dev.capsulevm.renter;

import dev.capsulevm.proofs.crypto.PublicKey;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * A sync peer's last session as the host's {@code Status} reports it ({@link AdminClient#peers}).
 *
 * @param lastSessionOrNull when the last session ran; null when never
 * @param lastOutcomeOrNull its outcome; null when never
 * @param lastErrorOrNull why it failed, when it did
 * @param lastBytes its bytes, both ways, reconciliation and records
 * @param lastRecords the records it moved, both ways
 * @param failures sessions that failed or found the peer misbehaving, of {@code sessions}
 * @param backoffUntilOrNull the host does not contact the peer before this; null when not backed off
 * @param keyOrNull the host key the peer last proved in a session; null when it never proved one
 */
public record PeerStatus(
    String address,
    @Nullable Instant lastSessionOrNull,
    @Nullable SyncOutcome lastOutcomeOrNull,
    @Nullable String lastErrorOrNull,
    long lastBytes,
    long lastRecords,
    long sessions,
    long failures,
    @Nullable Instant backoffUntilOrNull,
    @Nullable PublicKey keyOrNull) {

  static PeerStatus from(dev.capsulevm.proto.v1.PeerStatus m) {
    return new PeerStatus(m.getAddress(), instantOrNull("last_session_epoch_millis", m.getLastSessionEpochMillis()),
        SyncOutcome.fromWireOrNull(m.getLastOutcome()), m.getLastError().isEmpty() ? null : m.getLastError(),
        SyncProgress.unsigned("last_bytes", m.getLastBytes()), SyncProgress.unsigned("last_records", m.getLastRecords()),
        SyncProgress.unsigned("sessions", m.getSessions()), SyncProgress.unsigned("failures", m.getFailures()),
        instantOrNull("backoff_until_epoch_millis", m.getBackoffUntilEpochMillis()),
        m.getKey().isEmpty() ? null : PublicKey.copyOf(m.getKey().toByteArray()));
  }

  private static @Nullable Instant instantOrNull(String field, long epochMillis) {
    return epochMillis == 0 ? null : Instant.ofEpochMilli(SyncProgress.unsigned(field, epochMillis));
  }
}
