package dev.capsulevm.host.replication;

import io.grpc.Status;
import org.jspecify.annotations.Nullable;

/**
 * Why a session ended early. {@link #misbehaved()} marks what only a dishonest or broken peer sends (a
 * malformed turn, an invalid record, a record that does not match its entry): such a peer is logged,
 * counted and backed off. The status is what the responder closes the stream with.
 */
public final class SyncFailure extends Exception {
  private final Status.Code code;
  private final boolean misbehaved;

  SyncFailure(Status.Code code, boolean misbehaved, @Nullable String message, @Nullable Throwable cause) {
    super(message, cause);
    this.code = code;
    this.misbehaved = misbehaved;
  }

  static SyncFailure misbehaviour(String message, @Nullable Throwable cause) {
    return new SyncFailure(Status.Code.INVALID_ARGUMENT, true, message, cause);
  }

  static SyncFailure of(Status.Code code, @Nullable String message) {
    return new SyncFailure(code, false, message, null);
  }

  public Status.Code code() {
    return code;
  }

  public boolean misbehaved() {
    return misbehaved;
  }

  Status status() {
    return Status.fromCode(code).withDescription(getMessage());
  }
}
