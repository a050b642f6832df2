package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import java.util.List;
import java.util.Objects;

/**
 * A record with its sub-record payloads, as an append carries it. The payload arrays are shared, not
 * copied (records can hold thousands): whoever builds one must not change them afterwards.
 */
public final class RecordWithBody {
  private final Record record;
  private final List<byte[]> payloads;

  public RecordWithBody(Record record, List<byte[]> payloads) {
    this.record = Objects.requireNonNull(record, "record");
    this.payloads = List.copyOf(payloads);
  }

  public Record record() {
    return record;
  }

  public Hash hash() {
    return record.hash();
  }

  /** The sub-record payloads in leaf order; do not modify the arrays. */
  public List<byte[]> payloads() {
    return payloads;
  }

  @Override
  public String toString() {
    return "RecordWithBody[" + record + ", " + payloads.size() + " sub-records]";
  }
}
