package dev.capsulevm.host.sync;

/**
 * Bounds on what a peer may send: every count is checked against them and against the bytes actually
 * present before anything is allocated, so hostile input costs at most a constant times its own size.
 */
public record SyncLimits(int maxTurnBytes, int maxMessages, int maxHeads, int maxBatchSymbols, int maxRecords,
    int maxWants, long maxBloomBits, int maxRepairRounds) {
  public static final SyncLimits DEFAULT =
      new SyncLimits(64 << 20, 16, 1024, 1 << 20, 1 << 20, 1 << 20, 1L << 29, 6);
}
