package dev.capsulevm.host.server;

import dev.capsulevm.proto.v1.ExecuteResponse;
import dev.capsulevm.proto.v1.ProgramEnd;
import io.grpc.Status;
import org.jspecify.annotations.Nullable;

/**
 * The host's side of one program's messages: its own Execute call ({@link CallResponses}) or its number on
 * a program stream ({@link ProgramStream}). Every message and status goes out through here, one at a time
 * under one lock, and nothing goes out once the renter cancelled. Callers may hold the call's monitor
 * when they send; no implementation takes it.
 */
abstract class Responses {
  private volatile boolean cancelled;

  /**
   * Takes the call's cancellation and readiness handlers; called once, from the call's constructor, so both
   * are in place before the call is handed to gRPC.
   */
  abstract void attach(Runnable onCancel, Runnable onReady);

  /** Asks for the next request message. */
  abstract void requestNext();

  /** Whether the transport takes another message without buffering it. */
  abstract boolean isReady();

  /** The renter cancelled the call (or the transport broke): nothing more is sent. */
  final void markCancelled() {
    cancelled = true;
  }

  final boolean wasCancelled() {
    return cancelled;
  }

  /** Sends one message; false when the call was cancelled, before or while sending. */
  abstract boolean send(ExecuteResponse response);

  /** Ends the program with {@code end}, then OK, or the status {@code errorOrNull}. */
  abstract void end(ProgramEnd end, @Nullable Status errorOrNull);

  /** Ends the program with a status alone: the call held no budget, or its charge could not be written. */
  abstract void refuse(Status status);
}
