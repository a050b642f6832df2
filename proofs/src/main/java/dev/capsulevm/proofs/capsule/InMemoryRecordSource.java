package dev.capsulevm.proofs.capsule;

import dev.capsulevm.proofs.Hash;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/** A thread-safe record source in memory, for tests, tools and the renter's own records. */
public final class InMemoryRecordSource implements RecordSource {
  private final ConcurrentHashMap<Hash, RecordHeader> headers = new ConcurrentHashMap<>();

  /** Adds {@code header} under its own hash. */
  public void add(RecordHeader header) {
    headers.put(header.hash(), header);
  }

  @Override
  public @Nullable RecordHeader headerOrNull(Hash recordHash) {
    return headers.get(recordHash);
  }

  public int size() {
    return headers.size();
  }
}
