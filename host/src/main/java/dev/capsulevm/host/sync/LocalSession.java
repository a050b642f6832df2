package dev.capsulevm.host.sync;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayDeque;
import java.util.List;

/**
 * Runs a session between two in-process reconcilers through the codec, as the Sync service
 * ({@code host.replication.SyncSession}) does over a bidirectional stream: every turn is encoded,
 * counted and strictly decoded. The responder streams coded symbols one run ahead of the initiator (a
 * flow-control window of one run), so the run in flight when the initiator stops the stream is counted
 * too. A round trip is a turn of the initiator's that the responder answers; stream runs are not round
 * trips.
 */
public final class LocalSession {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** What one session cost. Record bytes (ids, parents, their framing) are counted apart. */
  public record Stats(Reconciler.Outcome outcome, int roundTrips, long reconciliationBytes, long recordBytes,
      long recordsToInitiator, long recordsToResponder, long initiatorCpuNanos, long responderCpuNanos,
      long symbols, boolean fellBack, int repairRounds) {}

  private LocalSession() {}

  /** Runs to the end, or until {@code maxRoundTrips} round trips (a cut-off session: outcome RUNNING). */
  public static Stats run(Reconciler initiator, Reconciler responder, int maxRoundTrips) {
    long[] cpu = new long[2];
    long[] bytes = new long[2]; // reconciliation, records
    SyncLimits limits = SyncLimits.DEFAULT;
    int roundTrips = 0;
    long t = cpu();
    List<SyncMessage> turn = wire(initiator.start(), bytes, limits);
    cpu[0] += cpu() - t;
    roundTrips++;
    ArrayDeque<List<SyncMessage>> fromResponder = new ArrayDeque<>();
    t = cpu();
    fromResponder.add(wire(responder.receive(turn), bytes, limits));
    aheadOne(responder, fromResponder, bytes, limits);
    cpu[1] += cpu() - t;
    int guard = 0;
    while (!initiator.finished() && guard++ < 1_000_000) {
      List<SyncMessage> in = fromResponder.isEmpty() ? List.of() : fromResponder.poll();
      t = cpu();
      List<SyncMessage> reply = initiator.receive(in);
      cpu[0] += cpu() - t;
      if (initiator.finished()) {
        break;
      }
      if (reply.isEmpty()) {
        t = cpu();
        aheadOne(responder, fromResponder, bytes, limits);
        cpu[1] += cpu() - t;
        continue;
      }
      if (roundTrips >= maxRoundTrips) {
        break;
      }
      t = cpu();
      List<SyncMessage> sent = wire(reply, bytes, limits);
      cpu[0] += cpu() - t;
      roundTrips++;
      fromResponder.clear(); // runs in flight are counted; the initiator would ignore them
      t = cpu();
      fromResponder.add(wire(responder.receive(sent), bytes, limits));
      aheadOne(responder, fromResponder, bytes, limits);
      cpu[1] += cpu() - t;
    }
    return new Stats(initiator.outcome(), roundTrips, bytes[0], bytes[1], initiator.recordsReceived(),
        responder.recordsReceived(), cpu[0], cpu[1], initiator.symbolsReceived(), initiator.fellBack(),
        initiator.repairRounds());
  }

  /** Keeps one streamed run in flight ahead of what the initiator has consumed. */
  private static void aheadOne(Reconciler responder, ArrayDeque<List<SyncMessage>> queue, long[] bytes,
      SyncLimits limits) {
    while (responder.streaming() && queue.size() < 2) {
      SyncMessage.Symbols next = responder.nextBatch();
      if (next == null) {
        break;
      }
      queue.add(wire(List.of(next), bytes, limits));
    }
  }

  private static List<SyncMessage> wire(List<SyncMessage> turn, long[] bytes, SyncLimits limits) {
    byte[] encoded = SyncCodec.encodeTurn(turn);
    long records = SyncCodec.recordBytes(turn);
    bytes[0] += encoded.length - records;
    bytes[1] += records;
    return SyncCodec.decodeTurn(encoded, limits);
  }

  private static long cpu() {
    return THREADS.getCurrentThreadCpuTime();
  }
}
