package dev.capsulevm.program;

/**
 * A reference to {@code length} bytes of program data starting at {@code offset}. Several instructions
 * may share one reference's bytes.
 */
public record DataRef(long offset, long length) {
  /** The number of bytes a reference occupies in the instruction encoding: two big-endian longs. */
  public static final int ENCODED_LENGTH = 16;

  public DataRef {
    if (offset < 0 || length < 0 || offset > Long.MAX_VALUE - length) {
      throw new IllegalArgumentException("bad data reference: offset " + offset + ", length " + length);
    }
  }

  /** The offset just after the referenced bytes. */
  public long end() {
    return offset + length;
  }

  /** Whether the referenced bytes lie within program data of {@code dataLength} bytes. */
  public boolean fitsIn(long dataLength) {
    return end() <= dataLength;
  }
}
