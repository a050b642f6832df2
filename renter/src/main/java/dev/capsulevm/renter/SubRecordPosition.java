package dev.capsulevm.renter;

/**
 * Where a sub-record lies in a capsule: the height of its record and its index there. Heights name records
 * along the primary chain below the anchor a read is proven from (one record per height unless the capsule
 * forked).
 */
public record SubRecordPosition(long height, long index) {
  public SubRecordPosition {
    if (height < 1 || index < 0) {
      throw new IllegalArgumentException("a position has a height of at least 1 and an index not negative, got "
          + height + ":" + index);
    }
  }

  /** {@code HEIGHT:INDEX}, as the command line takes it. */
  @Override
  public String toString() {
    return height + ":" + index;
  }
}
