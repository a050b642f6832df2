package dev.capsulevm.proofs.capsule;

/**
 * The skip-pointer rule. A record at height h holds, besides its parents, pointers to the ancestors at
 * heights h - 2^k for k = 1 .. trailingZeros(h), keeping only targets of height 1 or more, all taken on
 * its primary chain (the chain that follows each record's first parent, which has height h - 1).
 *
 * <p>Why this rule: the longest jump out of height h is 2^trailingZeros(h), and landing on h - 2^k
 * raises the trailing zeros of the height, so a walk from height n down to height i climbs through
 * ever longer jumps and then descends through ever shorter ones: at most about 2 log2(n - i) headers.
 * Records carry one skip pointer on average (half carry none), so writes stay cheap.
 */
public final class SkipPointers {
  private SkipPointers() {}

  /** How many skip pointers a record at {@code height} (1 or more) carries. */
  public static int count(long height) {
    if (height < 1) {
      throw new IllegalArgumentException("record heights start at 1, got " + height);
    }
    int zeros = Long.numberOfTrailingZeros(height);
    // A jump of exactly h would land on the metadata (height 0), which is not a record.
    return Long.bitCount(height) == 1 ? Math.max(0, zeros - 1) : zeros;
  }

  /** The height skip pointer {@code index} (from 0) of a record at {@code height} points to. */
  public static long targetHeight(long height, int index) {
    if (index < 0 || index >= count(height)) {
      throw new IllegalArgumentException(
          "a record at height " + height + " has " + count(height) + " skip pointers, not " + (index + 1));
    }
    return height - (2L << index);
  }
}
