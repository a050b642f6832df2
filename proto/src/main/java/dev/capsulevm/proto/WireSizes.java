package dev.capsulevm.proto;

/** Sizes the Protobuf messages add around canonical bytes, for metering bandwidth ahead of sending. */
public final class WireSizes {
  /**
   * What an {@code ExecuteResponse} carrying one output adds to the output's canonical bytes: the output
   * field's tag and length, the index, cost and bound fields, and the message's own tag and length (at
   * most 40 bytes; 48 leaves room).
   */
  public static final long OUTPUT_ENVELOPE_BYTES = 48;

  private WireSizes() {}
}
